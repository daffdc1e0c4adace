"""Throughput of the simulator: get-order and list requests per second, and the server's memory.

Starts the simulator in a child process (one uvicorn worker), collects existing order ids from the
list endpoint, then drives get-order and list with an aiohttp client at a fixed concurrency for a
fixed time each, against 127.0.0.1 only. The rate limit is off so the server itself is measured.

    .venv/bin/python bench/bench_simulator.py --seconds 10 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psutil
import uvloop

from ordersync.dates import format_filter_datetime
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess

ACCOUNT = "bench"
MAX_SECONDS = 120.0
MAX_CONCURRENCY = 64
MAX_REQUESTS = 500_000


async def _collect_ids(session: aiohttp.ClientSession, base: str, now: datetime, days: int, want: int) -> list[str]:
    """Order ids from one list page per hour across the history."""
    ids: list[str] = []
    hours = list(range(1, days * 24))
    random.Random(1).shuffle(hours)
    for h in hours:
        end = now - timedelta(hours=h)
        begin = end - timedelta(hours=1)
        window = f"creationDate:[{format_filter_datetime(begin)} TO {format_filter_datetime(end)}]"
        params = {"f_creationDate": window, "per_page": "100"}
        async with session.get(f"{base}/api/oms/pvt/orders", params=params) as resp:
            resp.raise_for_status()
            body = await resp.json()
        ids.extend(item["orderId"] for item in body["list"])
        if len(ids) >= want:
            break
    return ids


async def _drive(
    session: aiohttp.ClientSession, urls: list[str], seconds: float, concurrency: int
) -> tuple[int, int, float]:
    """(ok, failed, elapsed) after `concurrency` workers request random URLs for `seconds`.

    Stops early after MAX_REQUESTS so a phase is bounded in count as well as in time.
    """
    ok = failed = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)

    async def worker() -> None:
        nonlocal ok, failed
        while time.perf_counter() < deadline and ok + failed < MAX_REQUESTS:
            async with session.get(rng.choice(urls)) as resp:
                await resp.read()
                if resp.status == 200:
                    ok += 1
                else:
                    failed += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed, time.perf_counter() - began


def _list_urls(base: str, now: datetime, days: int, count: int) -> list[str]:
    rng = random.Random(3)
    urls = []
    for _ in range(count):
        end = now - timedelta(hours=rng.uniform(1, days * 24 - 1))
        start = end - timedelta(minutes=rng.choice([15, 60, 120]))
        window = f"creationDate:[{format_filter_datetime(start)} TO {format_filter_datetime(end)}]"
        query = urllib.parse.quote(window, safe=":")
        urls.append(f"{base}/api/oms/pvt/orders?f_creationDate={query}&per_page=100&page={rng.randint(1, 3)}")
    return urls


async def _bench(args: argparse.Namespace, url: str, config: SimulatorConfig, proc: psutil.Process) -> dict[str, Any]:
    headers = {"X-VTEX-API-AppKey": config.app_key, "X-VTEX-API-AppToken": config.app_token}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        base = f"{url}/{ACCOUNT}"
        assert config.start is not None
        ids = await _collect_ids(session, base, config.start, int(config.days), 5000)
        get_urls = [f"{base}/api/oms/pvt/orders/{oid}" for oid in ids]
        cpu, own = cpu_seconds(proc), cpu_seconds(psutil.Process())
        get_ok, get_failed, get_elapsed = await _drive(session, get_urls, args.seconds, args.concurrency)
        get_busy = (cpu_seconds(proc) - cpu) / get_elapsed
        client_busy = (cpu_seconds(psutil.Process()) - own) / get_elapsed
        list_urls = _list_urls(base, config.start, int(config.days), 500)
        cpu = cpu_seconds(proc)
        list_ok, list_failed, list_elapsed = await _drive(session, list_urls, args.seconds, args.concurrency)
        list_busy = (cpu_seconds(proc) - cpu) / list_elapsed
    return {
        "ids": len(ids),
        "get_rps": get_ok / get_elapsed,
        "get_failed": get_failed,
        "list_rps": list_ok / list_elapsed,
        "list_failed": list_failed,
        "get_busy": get_busy,
        "client_busy": client_busy,
        "list_busy": list_busy,
    }


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU a process has used, in seconds."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight (16-32 is typical)")
    p.add_argument("--orders-per-day", type=float, default=40_000)
    p.add_argument("--days", type=int, default=25, help="history; 25 days x 40,000/day is about 1M orders")
    args = p.parse_args()
    args.seconds = min(args.seconds, MAX_SECONDS)
    args.concurrency = max(1, min(args.concurrency, MAX_CONCURRENCY))

    config = SimulatorConfig(
        host="127.0.0.1",
        port=0,
        accounts=[AccountSpec(ACCOUNT, args.orders_per_day)],
        days=args.days,
        start=datetime(2025, 6, 1, 12, tzinfo=UTC),
        speed=0.0,
        rate_limit_per_minute=0,
    )
    began = time.perf_counter()
    with start_in_subprocess(config) as sim:
        startup = time.perf_counter() - began
        assert sim.pid is not None
        proc = psutil.Process(sim.pid)
        info = sim.info()["accounts"][ACCOUNT]
        rss_start = proc.memory_info().rss
        result = uvloop.run(_bench(args, sim.url, config, proc))
        rss_end = proc.memory_info().rss
    print(f"orders served: {info['orders_existing']:,} ({info['column_bytes'] / 1e6:.0f} MB of columns)")
    print(f"startup: {startup:.1f} s")
    print(
        f"get-order: {result['get_rps']:,.0f} req/s over {args.seconds:g} s at concurrency {args.concurrency}"
        f" ({result['ids']:,} distinct ids, {result['get_failed']} non-200,"
        f" server CPU {result['get_busy']:.0%}, client CPU {result['client_busy']:.0%})"
    )
    per_request = result["get_busy"] / result["get_rps"]
    print(
        f"get-order server CPU: {per_request * 1e6:.0f} us/request"
        f" (about {1 / per_request:,.0f} req/s with a core of its own)"
    )
    print(
        f"list (per_page=100): {result['list_rps']:,.0f} req/s"
        f" ({result['list_failed']} non-200, server CPU {result['list_busy']:.0%})"
    )
    print(f"simulator RSS: {rss_start / 2**20:,.0f} MiB after startup, {rss_end / 2**20:,.0f} MiB after load")


if __name__ == "__main__":
    main()
