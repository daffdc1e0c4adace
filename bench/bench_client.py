"""Get-order throughput against the fake server running in its own process.

.venv/bin/python bench/bench_client.py --orders 20000 --concurrency 64 [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fake_vtex import APP_KEY, APP_TOKEN, spread  # run from the repository root

from ordersync.sources.vtex import VtexClient


async def run(base_url: str, ids: list[str], concurrency: int) -> tuple[int, float]:
    async with VtexClient(base_url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), concurrency=concurrency) as c:
        async for _ in c.get_orders(ids[:200]):  # warm the connection pool
            pass
        began = time.perf_counter()
        n = 0
        async for _, body in c.get_orders(ids):
            assert isinstance(body, bytes), body
            n += 1
        return n, time.perf_counter() - began


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--padding", type=int, default=0, help="bytes of filler in each order body")
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    args = parser.parse_args()
    padding = ("--padding", str(args.padding))
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_vtex", "--orders", str(args.orders), *padding],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        start = datetime(2024, 5, 1, tzinfo=UTC)
        ids = [o.order_id for o in spread(args.orders, start, start + timedelta(days=1))]
        job: Coroutine[Any, Any, tuple[int, float]] = run(base_url, ids, args.concurrency)
        if args.uvloop:
            import uvloop

            n, seconds = uvloop.run(job)
        else:
            n, seconds = asyncio.run(job)
        setup = f"concurrency {args.concurrency}, {'uvloop' if args.uvloop else 'asyncio'}"
        print(f"{n} get-order requests in {seconds:.2f}s: {n / seconds:,.0f}/s ({setup})")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
