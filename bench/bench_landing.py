"""Landing alone: where a landed version's time goes, without HTTP or the simulator competing for CPU.

Fetches 2,000 realistic order payloads from the simulator once, then lands --orders versions of
them (each with its own order id) through ordersync's parse and landing path, in transactions of
--batch, and prints per version: parsing and row building, the insert, the commit (on DuckDB the
WAL write and, every --checkpoint-threshold of WAL, a checkpoint), a final checkpoint, and the
process's peak RSS.

    .venv/bin/python bench/bench_landing.py --orders 100000 --warehouse /tmp/landing.duckdb
    .venv/bin/python bench/bench_landing.py --orders 100000 --warehouse /tmp/landing.duckdb --checkpoint-threshold 256MB
    .venv/bin/python bench/bench_landing.py --orders 100000 --warehouse postgresql://postgres@127.0.0.1:5432/bench_landing
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import urllib.parse
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import DEFAULT_DUCKDB_MEMORY_LIMIT, DEFAULT_TIMEZONE, WarehouseSettings
from ordersync.land import Lander, parse_order
from ordersync.memory import keep_memory_flat
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from ordersync.warehouse import open_warehouse
from ordersync.warehouse.migrate import upgrade

SAMPLE = 2_000
TZ = ZoneInfo(DEFAULT_TIMEZONE)


async def fetch_payloads(base: str, key: str, token: str, ids: list[str]) -> list[bytes]:
    headers = {"X-VTEX-API-AppKey": key, "X-VTEX-API-AppToken": token}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(order_id: str) -> bytes:
            async with session.get(f"{base}/api/oms/pvt/orders/{order_id}") as r:
                r.raise_for_status()
                return await r.read()

        return list(await asyncio.gather(*(one(i) for i in ids)))


def sample_payloads() -> list[bytes]:
    start = datetime(2025, 6, 1, 12, tzinfo=UTC)
    config = SimulatorConfig(
        port=0,
        seed=11,
        days=2,
        speed=0.0,
        start=start,
        index_lag_seconds=0,
        rate_limit_per_minute=0,
        fault_rate=0.0,
        accounts=[AccountSpec(name="bench", orders_per_day=SAMPLE)],
    )
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        truth = sim.control("GET", "truth?" + urllib.parse.urlencode({"account": "bench"}))["orders"]
        ids = [o["orderId"] for o in truth][:SAMPLE]
        return asyncio.run(fetch_payloads(sim.base_url("bench"), config.app_key, config.app_token, ids))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--warehouse", default="/tmp/ordersync-landing.duckdb")
    ap.add_argument("--memory-limit", default=DEFAULT_DUCKDB_MEMORY_LIMIT, help="DuckDB only")
    ap.add_argument("--checkpoint-threshold", default=None, help="DuckDB only; its default is 16MB")
    args = ap.parse_args()

    keep_memory_flat()
    payloads = sample_payloads()
    reset_warehouse(args.warehouse)
    wh = open_warehouse(WarehouseSettings(url=args.warehouse, duckdb_memory_limit=args.memory_limit))
    if args.checkpoint_threshold and wh.dialect == "duckdb":
        wh.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
    upgrade(wh)
    lander = Lander(wh, ManualClock(datetime(2025, 6, 2, tzinfo=UTC)))
    parse = insert = commit = 0.0
    began = time.perf_counter()
    for first in range(0, args.orders, args.batch):
        t0 = time.perf_counter()
        versions = []
        for n in range(first, min(first + args.batch, args.orders)):
            raw = payloads[n % SAMPLE].replace(b'"orderId":"', f'"orderId":"{n}-'.encode(), 1)
            versions.append(parse_order(raw, TZ))
        t1 = time.perf_counter()
        with wh.transaction():
            lander.land(1, versions, "bench", None, known_new=True)
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        parse, insert, commit = parse + t1 - t0, insert + t2 - t1, commit + t3 - t2
    t4 = time.perf_counter()
    if wh.dialect == "duckdb":
        wh.execute("CHECKPOINT")
    final = time.perf_counter() - t4
    total = time.perf_counter() - began
    landed = wh.scalar("SELECT count(*) FROM cdp.orders_landing")
    wh.close()
    us = 1e6 / args.orders
    print(f"warehouse        {wh.dialect} ({args.warehouse})")
    size = sum(map(len, payloads)) // SAMPLE
    print(f"versions         {landed:,} landed in batches of {args.batch}, payloads {size:,} bytes on average")
    print(
        f"µs per version   parse {parse * us:.0f}, insert {insert * us:.0f}, commit {commit * us:.0f}, "
        f"final checkpoint {final * us:.0f}; total {total * us:.0f} ({args.orders / total:,.0f} versions/s)"
    )
    print(f"peak RSS         {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
