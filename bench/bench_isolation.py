"""What finding a failing tenant costs a build, and that a build that succeeds pays nothing for it.

N push tenants (--tenants) with --orders orders each, and a model of the team's own that fails on
one tenant's data (an order id that is not a number). Prints, per warehouse, the median seconds of:
an incremental build where nothing fails, the same before and after the bad tenant exists (the
first build that finds it, then one that tries it again), and how many dbt builds each took.

    .venv/bin/python bench/bench_isolation.py --warehouse /tmp/iso.duckdb
    .venv/bin/python bench/bench_isolation.py --warehouse postgresql://postgres@127.0.0.1:5432/bench_iso
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.sources.push.bodies import json_items
from ordersync.transform import builds, project

NOW = datetime(2025, 6, 2, 12, tzinfo=UTC)
ORDER_NUMBERS = """
{{ config(materialized='table') }}
select tenant_id, order_id, cast(order_id as bigint) as order_number
from {{ ref('fct_orders') }}
where {{ ordersync.tenant_in_build('tenant_id') }}
"""


def push(app: Ordersync, tenant: str, ids: list[str]) -> None:
    t = app.tenants.get(tenant)
    body = orjson.dumps(
        [
            {
                "order_id": i,
                "event_time": (NOW - timedelta(minutes=5)).isoformat(),
                "creation_date": (NOW - timedelta(hours=1)).isoformat(),
                "status": "invoiced",
                "total_value": "10.00",
                "currency_code": "BRL",
            }
            for i in ids
        ]
    )
    answer = app.push_receiver().receive(t, json_items(body), idempotency_key=None, request=body)
    assert answer.status == 200 and answer.body["quarantined"] == 0, answer.body


def timed_build(app: Ordersync) -> tuple[float, int]:
    """Seconds of one `Ordersync.build`, and the dbt builds it ran (from the dbt log's invocations)."""
    state = Path(app.settings.dbt.state_dir) / "logs" / "dbt.log"
    before = state.read_text(errors="replace").count("Running with dbt=") if state.exists() else 0
    began = time.perf_counter()
    app.build()
    seconds = time.perf_counter() - began
    after = state.read_text(errors="replace").count("Running with dbt=")
    return seconds, after - before


def measure(url: str, tenants: int, orders: int, cycles: int) -> dict[str, Any]:
    reset_warehouse(url)
    work = Path(tempfile.mkdtemp(prefix="bench-iso-"))
    try:
        team = project.init_project(work / "team").project_dir
        (team / "models" / "order_numbers.sql").write_text(ORDER_NUMBERS, encoding="utf-8")
        overrides = {"warehouse": {"url": url}, "dbt": {"state_dir": str(work / "state"), "project_dir": str(team)}}
        with Ordersync(load_settings(overrides=overrides), clock=ManualClock(NOW)) as app:
            app.init()
            names = [f"shop-{n}" for n in range(tenants)]
            for name in names:
                app.add_tenant(name, account=None, base_url=None, app_key_env=None, app_token_env=None,
                               platform="push", timezone="UTC")  # fmt: skip
            serial = iter(range(10**6, 10**7))
            for name in names:
                push(app, name, [str(next(serial)) for _ in range(orders)])
            app.build()
            ok = []
            for _ in range(cycles):
                for name in names:
                    push(app, name, [str(next(serial))])
                ok.append(timed_build(app))
            push(app, names[-1], ["not-a-number"])
            for name in names[:-1]:
                push(app, name, [str(next(serial))])
            finding = timed_build(app)
            last = builds.last_build(app.wh)
            assert last is not None and [f["tenant"] for f in last["failed_tenants"]] == [names[-1]], last
            held = []
            for _ in range(cycles):
                for name in names[:-1]:
                    push(app, name, [str(next(serial))])
                held.append(timed_build(app))
        return {
            "tenants": tenants,
            "build_nothing_fails_s": round(statistics.median(s for s, _ in ok), 2),
            "dbt_builds_nothing_fails": ok[0][1],
            "build_finding_the_tenant_s": round(finding[0], 2),
            "dbt_builds_finding": finding[1],
            "build_while_held_s": round(statistics.median(s for s, _ in held), 2),
            "dbt_builds_while_held": held[0][1],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default="/tmp/ordersync-iso.duckdb")
    ap.add_argument("--tenants", type=int, default=8)
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--cycles", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(measure(args.warehouse, args.tenants, args.orders, args.cycles), indent=2))


if __name__ == "__main__":
    main()
