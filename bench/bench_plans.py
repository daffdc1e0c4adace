"""Backfill plan drafting: how long `ordersync backfill plan` takes to read the source and say what
it would do.

Two shapes, each against the simulator in its own process (clock moved by hand, no rate limit) and a fresh
warehouse: the seed's 11 tenants at 10-65 orders a day, and one tenant at 40,000 orders a day. Each
is synced (16 days), then the store's clock moves 6 hours without a sync (payments, invoices,
cancellations), then a 14-day plan is drafted for every tenant at once and timed; a second draft
right after (nothing new to fetch) is timed too.

    .venv/bin/python bench/bench_plans.py                          # both shapes, DuckDB
    .venv/bin/python bench/bench_plans.py --shape seed --warehouse postgresql://postgres@127.0.0.1:5432/bench_plans
    .venv/bin/python bench/bench_plans.py --quick                  # small sizes (the smoke test)
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess

KEY_ENV, TOKEN_ENV = "BENCH_APP_KEY", "BENCH_APP_TOKEN"
#: The seed's tenants' daily volumes (001_*.txt: 10-65 orders a day).
SEED_VOLUMES = [10, 14, 18, 22, 27, 32, 38, 44, 50, 57, 65]


def run(shape: str, per_day: list[int], warehouse: str, days: int, plan_days: int, state: Path) -> dict[str, float]:
    start = datetime(2025, 6, 1, 12, tzinfo=UTC)
    config = SimulatorConfig(
        port=0,
        seed=21,
        days=days,
        speed=0.0,
        start=start,
        index_lag_seconds=0,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name=f"store{i}", orders_per_day=n) for i, n in enumerate(per_day)],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    reset_warehouse(warehouse)
    with start_in_subprocess(config) as sim:
        settings = load_settings(
            overrides={
                "warehouse": {"url": warehouse},
                "dbt": {"state_dir": str(state / "dbt")},
                "sync": {"requests_per_minute": 10_000_000, "concurrency": 32, "initial_days": days + 1},
            }
        )
        clock = ManualClock(sim.clock())
        with Ordersync(settings, clock=clock) as app:
            for spec in config.accounts:
                app.add_tenant(
                    spec.name,
                    account=spec.name,
                    base_url=sim.base_url(spec.name),
                    app_key_env=KEY_ENV,
                    app_token_env=TOKEN_ENV,
                )
            began = time.perf_counter()
            report = app.sync(build=True)
            sync_seconds = time.perf_counter() - began
            if not report.ok:
                raise SystemExit(f"the sync failed: {[o.error for o in report.failures]} {report.build_error}")
            sim.advance(6 * 3600)
            clock.set(sim.clock())
            last = clock.now().date() - timedelta(days=1)
            first = last - timedelta(days=plan_days - 1)
            tenants = app.tenants.list()
            began = time.perf_counter()
            plan = app.plans.draft(tenants, first, last, author="bench")
            draft_seconds = time.perf_counter() - began
            began = time.perf_counter()
            app.plans.draft(tenants, first, last, author="bench")
            redraft_seconds = time.perf_counter() - began
            landed = int(app.wh.scalar("SELECT count(*) FROM cdp.orders_landing"))
    totals = plan.body["totals"]
    source_orders = sum(d["source_orders"] or 0 for d in plan.body["days"])
    return {
        "tenants": len(per_day),
        "source_orders": source_orders,
        "landed": landed,
        "sync_seconds": sync_seconds,
        "draft_seconds": draft_seconds,
        "redraft_seconds": redraft_seconds,
        "versions_to_land": totals["versions_to_land"],
        "rows_updated": totals["rows_updated"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", action="append", choices=["seed", "large"], help="default: both")
    ap.add_argument("--warehouse", default="/tmp/ordersync-bench-plans.duckdb")
    ap.add_argument("--large-per-day", type=int, default=40_000)
    ap.add_argument("--quick", action="store_true", help="small sizes: 3 tenants, 400 orders a day, 4-day plans")
    ap.add_argument("--state", default="/tmp/ordersync-bench-plans")
    args = ap.parse_args()
    shapes = args.shape or ["seed", "large"]
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    days, plan_days = (6, 4) if args.quick else (16, 14)
    kind = "postgresql" if args.warehouse.startswith("postgres") else "duckdb"
    print(f"machine: {os.cpu_count()} cores; warehouse {kind}")
    print("shape   tenants  source orders  landed versions  sync s  draft s  redraft s  versions to land  rows updated")
    for shape in shapes:
        if shape == "seed":
            volumes = SEED_VOLUMES[:3] if args.quick else SEED_VOLUMES
        else:
            volumes = [400 if args.quick else args.large_per_day]
        r = run(shape, volumes, args.warehouse, days, plan_days, state)
        print(
            f"{shape:<7} {r['tenants']:>7}  {r['source_orders']:>13,}  {r['landed']:>15,}  {r['sync_seconds']:>6.1f}  "
            f"{r['draft_seconds']:>7.1f}  {r['redraft_seconds']:>9.1f}  {r['versions_to_land']:>16,}  "
            f"{r['rows_updated']:>12,}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB (this process)")


if __name__ == "__main__":
    main()
