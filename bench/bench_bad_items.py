"""A pushed batch of bad items: how long reading and preparing it (no warehouse) and writing it (one
transaction) take, for --items identical bad items (`[0,0,...]`), the same batch sent again, and
--items distinct bad items (`[0,1,2,...]`); and how many quarantine rows each wrote.

    .venv/bin/python bench/bench_bad_items.py --warehouse /tmp/bad-items.duckdb
    .venv/bin/python bench/bench_bad_items.py --warehouse postgresql://postgres@127.0.0.1:5432/bench_bad_items
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.sources.push.bodies import json_items
from ordersync.sources.push.receiver import PushReceiver
from ordersync.tenants import TenantStore
from ordersync.warehouse import open_warehouse
from ordersync.warehouse.migrate import upgrade


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--warehouse", default="/tmp/ordersync-bad-items.duckdb")
    args = ap.parse_args()

    reset_warehouse(args.warehouse)
    wh = open_warehouse(WarehouseSettings(url=args.warehouse))
    upgrade(wh)
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    tenant = TenantStore(wh).add(
        "bench", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )
    receiver = PushReceiver(wh, clock)
    same = b"[" + b",".join([b"0"] * args.items) + b"]"
    distinct = b"[" + b",".join(str(i).encode() for i in range(args.items)) + b"]"
    print(f"{wh.dialect}: {args.items:,} bad items per batch")
    for label, body in (("identical", same), ("identical again", same), ("distinct", distinct)):
        rows_before = int(wh.scalar("SELECT count(*) FROM cdp.quarantine"))
        began = time.perf_counter()
        prepared = receiver.prepare(tenant, json_items(body), idempotency_key=None, request=body)
        prepared_at = time.perf_counter()
        answer = receiver.commit(prepared)
        done = time.perf_counter()
        rows = int(wh.scalar("SELECT count(*) FROM cdp.quarantine")) - rows_before
        print(
            f"  {label:16} read+prepare {1000 * (prepared_at - began):8.1f} ms"
            f"   write {1000 * (done - prepared_at):8.1f} ms"
            f"   quarantined {answer.body['quarantined']:,}   rows written {rows:,}"
            f"   answer {len(str(answer.body)):,} chars"
        )
    wh.close()


if __name__ == "__main__":
    main()
