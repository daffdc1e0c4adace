"""End-to-end sync throughput and memory: simulator -> ordersync -> warehouse.

Starts the simulator in its own process with one store holding --orders orders (frozen clock,
quiesced), measures the simulator's raw get-order rate alone, then runs one ordersync sync into the
chosen warehouse in this process and prints orders/s end to end and this process's peak RSS.

    .venv/bin/python bench/bench_sync.py --orders 100000 --warehouse /tmp/bench.duckdb
    .venv/bin/python bench/bench_sync.py --orders 100000 --warehouse postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psutil

from bench_simulator import cpu_seconds
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess

KEY_ENV, TOKEN_ENV = "BENCH_APP_KEY", "BENCH_APP_TOKEN"


async def raw_rate(
    base: str, key: str, token: str, ids: list[str], seconds: float, concurrency: int
) -> tuple[float, int]:
    """The simulator alone: get-order requests per second with a bare aiohttp client, and how many."""
    headers = {"X-VTEX-API-AppKey": key, "X-VTEX-API-AppToken": token}
    done = 0
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with session.get(f"{base}/api/oms/pvt/orders/{random.choice(ids)}") as r:
                    await r.read()
                done += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - began), done


def reset_warehouse(url: str) -> None:
    if url.startswith("postgresql://"):
        import psycopg

        admin, _, name = url.rpartition("/")
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}"')
    else:
        for p in (Path(url), Path(url + ".wal")):
            p.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--warehouse", default="/tmp/ordersync-bench.duckdb")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--raw-seconds", type=float, default=8.0)
    args = ap.parse_args()

    start = datetime(2025, 6, 1, 12, tzinfo=UTC)
    per_day = max(1, args.orders // args.days)
    config = SimulatorConfig(
        port=0,
        seed=11,
        days=args.days,
        speed=0.0,
        start=start,
        index_lag_seconds=0,
        rate_limit_per_minute=0,
        fault_rate=0.0,
        accounts=[AccountSpec(name="bench", orders_per_day=per_day)],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    reset_warehouse(args.warehouse)
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        # ids from the last day only: the whole truth would sit in this process and inflate its RSS
        window = {"account": "bench", "created_from": (start - timedelta(days=1)).isoformat()}
        truth = sim.control("GET", f"truth?{urllib.parse.urlencode(window)}")["orders"]
        ids = [o["orderId"] for o in truth]
        me, simulator = psutil.Process(), psutil.Process(sim.pid)
        probe_cpu0, sim_probe0 = cpu_seconds(me), cpu_seconds(simulator)
        rate, probed = asyncio.run(
            raw_rate(
                sim.base_url("bench"),
                config.app_key,
                config.app_token,
                ids,
                args.raw_seconds,
                args.concurrency,
            )
        )
        probe_cpu = cpu_seconds(me) - probe_cpu0
        sim_probe_cpu = cpu_seconds(simulator) - sim_probe0
        del truth, ids
        settings = load_settings(
            overrides={
                "warehouse": {"url": args.warehouse},
                "sync": {
                    "requests_per_minute": 10_000_000,  # measure ordersync, not its pacing
                    "concurrency": args.concurrency,
                    "initial_days": args.days + 1,
                    "build_after_sync": False,
                },
            }
        )
        clock = ManualClock(sim.clock() + timedelta(minutes=15))
        with Ordersync(settings, clock=clock) as app:
            app.add_tenant(
                "bench",
                account="bench",
                base_url=sim.base_url("bench"),
                app_key_env=KEY_ENV,
                app_token_env=TOKEN_ENV,
            )
            began, cpu0, sim0 = time.perf_counter(), cpu_seconds(me), cpu_seconds(simulator)
            report = app.sync(["bench"], build=False)
            seconds = time.perf_counter() - began
            cpu, sim_cpu = cpu_seconds(me) - cpu0, cpu_seconds(simulator) - sim0
            outcome = report.outcomes[0]
            if outcome.status != "succeeded":
                print("error:", repr(outcome.exception), outcome.error)
            landed = app.wh.scalar("SELECT count(DISTINCT order_id) FROM cdp.orders_landing")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    e2e = landed / seconds
    print(f"warehouse            {'postgresql' if args.warehouse.startswith('postgresql') else 'duckdb'}")
    print(
        f"orders               {landed:,} landed ({outcome.status}; {outcome.counters.get_calls:,} get-order, "
        f"{outcome.counters.list_calls:,} list calls)"
    )
    print(
        f"simulator alone      {rate:,.0f} get-order/s ({args.concurrency} concurrent; CPU per request: "
        f"simulator {sim_probe_cpu / probed * 1e6:,.0f} µs, bare aiohttp client {probe_cpu / probed * 1e6:,.0f} µs)"
    )
    print(f"ordersync end to end {e2e:,.0f} orders/s in {seconds:.1f} s ({e2e / rate:.0%} of the simulator alone)")
    print(
        f"CPU per order        ordersync {cpu / landed * 1e6:,.0f} µs, simulator {sim_cpu / landed * 1e6:,.0f} µs "
        f"(machine: {os.cpu_count()} cores)"
    )
    print(f"peak RSS             {peak_mb:,.0f} MB (ordersync process)")


if __name__ == "__main__":
    main()
