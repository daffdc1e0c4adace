"""A paced full sync against the simulator's per-account limit: how much of the limit it uses, how few 429s.

Starts the simulator in its own process with a 6,000 requests/minute limit per account and two
accounts, then reads every order of the last --days days of one account (list the window, get every
order) with a client budget of --rpm, and does the same with two syncs of the other account at once,
each on its own thread and event loop, sharing the account's budget. Prints, per run: requests
made (every attempt), requests per minute as a share of the limit, the share answered 429 (as the
simulator counted them) and the seconds waited for the budget and after 429s.

    .venv/bin/python bench/bench_pacing.py                 # both runs, about 3 minutes
    .venv/bin/python bench/bench_pacing.py --runs one --rpm 0   # unpaced, for comparison
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import RunningSimulator, start_in_subprocess
from ordersync.sources.http.pacing import Pacer, account_key, install
from ordersync.sources.http.transport import ClientStats
from ordersync.sources.vtex import VtexClient

START = datetime(2025, 6, 1, 12, tzinfo=UTC)


@dataclass
class Result:
    orders: int
    seconds: float
    stats: ClientStats
    error: str | None = None


async def full_sync(sim: RunningSimulator, config: SimulatorConfig, account: str, args: argparse.Namespace) -> Result:
    """List every order created in the window and get each one, as a full sync's extract does."""
    c = VtexClient(
        sim.base_url(account),
        SecretStr(config.app_key),
        SecretStr(config.app_token),
        concurrency=args.concurrency,
        requests_per_minute=args.rpm or None,
    )
    began = time.perf_counter()
    orders = 0
    try:
        async with c:
            pages = c.list_window("creationDate", START - timedelta(days=args.days), START)
            ids = [e.order_id async for page in pages for e in page]
            async for _, body in c.get_orders(ids):
                if not isinstance(body, bytes):
                    raise body
                orders += 1
    except Exception as exc:
        return Result(orders, time.perf_counter() - began, c.stats, f"{type(exc).__name__}: {exc}")
    return Result(orders, time.perf_counter() - began, c.stats)


def sim_counts(sim: RunningSimulator) -> tuple[int, int]:
    """(requests, of which 429) the simulator has served on the API routes so far."""
    by_route: dict[str, dict[str, int]] = sim.stats()["requests"]
    total = throttled = 0
    for route in ("list", "get_order"):
        for status, n in by_route.get(route, {}).items():
            total += n
            throttled += n if status == "429" else 0
    return total, throttled


def measure(
    sim: RunningSimulator, config: SimulatorConfig, account: str, syncs: int, args: argparse.Namespace
) -> dict[str, Any]:
    if args.rpm and args.burst_seconds is not None:
        install(account_key(sim.base_url(account)), Pacer(args.rpm, burst_seconds=args.burst_seconds))
    before = sim_counts(sim)
    threads: list[threading.Thread] = []
    results: list[Result] = []
    lock = threading.Lock()

    def run() -> None:
        result = asyncio.run(full_sync(sim, config, account, args))
        with lock:
            results.append(result)

    began = time.perf_counter()
    for _ in range(syncs):
        threads.append(threading.Thread(target=run))
        threads[-1].start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    after = sim_counts(sim)
    requests, throttled = after[0] - before[0], after[1] - before[1]
    limit = config.rate_limit_per_minute
    per_minute = requests / seconds * 60
    return {
        "syncs": syncs,
        "orders": [r.orders for r in results],
        "errors": [r.error for r in results if r.error],
        "seconds": seconds,
        "requests": requests,
        "per_minute": per_minute,
        "share_of_limit": per_minute / limit if limit else float("nan"),
        "accepted_per_minute": (requests - throttled) / seconds * 60,
        "throttled": throttled,
        "throttled_share": throttled / requests if requests else 0.0,
        "pace_wait": sum(r.stats.pace_wait_seconds for r in results),
        "throttle_wait": sum(r.stats.throttle_wait_seconds for r in results),
        "client_throttled": sum(r.stats.throttled for r in results),
    }


def show(name: str, m: dict[str, Any], args: argparse.Namespace, limit: float) -> None:
    budget = f"{args.rpm:,.0f}/min" if args.rpm else "unpaced"
    print(f"\n{name}: {m['syncs']} sync(s), client budget {budget}, simulator limit {limit:,.0f}/min per account")
    print(f"  orders fetched        {', '.join(f'{n:,}' for n in m['orders'])}")
    print(f"  failures              {len(m['errors'])}" + "".join(f"\n    {e}" for e in m["errors"]))
    print(f"  requests made         {m['requests']:,} in {m['seconds']:.1f} s")
    print(f"  requests per minute   {m['per_minute']:,.0f} ({m['share_of_limit']:.1%} of {limit:,.0f})")
    print(f"  accepted per minute   {m['accepted_per_minute']:,.0f} ({m['accepted_per_minute'] / limit:.1%})")
    print(f"  answered 429          {m['throttled']:,} ({m['throttled_share']:.2%} of requests)")
    waits = f"{m['pace_wait']:,.1f} for the budget, {m['throttle_wait']:,.1f} after 429s"
    print(f"  seconds waited        {waits} (summed over requests)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", choices=["one", "two", "both"], default="both")
    ap.add_argument("--rpm", type=float, default=6000.0, help="the client's budget; 0 = unpaced")
    ap.add_argument("--limit", type=float, default=6000.0, help="the simulator's limit per account")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--orders-per-day", type=float, default=300.0, help="the single sync's account")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--burst-seconds", type=float, default=None, help="the pacer's burst (default: the client's)")
    args = ap.parse_args()

    config = SimulatorConfig(
        port=0,
        seed=5,
        days=args.days + 1,
        speed=0.0,
        start=START,
        index_lag_seconds=0,
        rate_limit_per_minute=args.limit,
        fault_rate=0.0,
        # The shared account holds half the orders, so two syncs of it make as many requests as one of the other.
        accounts=[AccountSpec("solo", args.orders_per_day), AccountSpec("shared", args.orders_per_day / 2)],
    )
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        if args.runs in ("one", "both"):
            show("one full sync", measure(sim, config, "solo", 1, args), args, args.limit)
        if args.runs in ("two", "both"):
            show("two concurrent full syncs of one account", measure(sim, config, "shared", 2, args), args, args.limit)


if __name__ == "__main__":
    main()
