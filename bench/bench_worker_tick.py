"""One worker tick over many tenants with nothing new: wall time and API calls.

Starts the simulator with --tenants small stores, syncs each once, stops the source (quiesce), makes
every tenant due, then times one worker tick in which every tenant runs an incremental sync that
finds nothing to land.

    .venv/bin/python bench/bench_worker_tick.py --tenants 1000 --warehouse /tmp/tick.duckdb
    .venv/bin/python bench/bench_worker_tick.py --tenants 1000 --warehouse postgresql://postgres@127.0.0.1:5432/tick
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker

KEY_ENV, TOKEN_ENV = "BENCH_APP_KEY", "BENCH_APP_TOKEN"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--orders-per-day", type=float, default=5)
    ap.add_argument("--warehouse", default="/tmp/ordersync-tick.duckdb")
    ap.add_argument("--concurrency", type=int, default=16, help="tenants synced at once")
    args = ap.parse_args()

    names = [f"t{i:04d}" for i in range(args.tenants)]
    config = SimulatorConfig(
        port=0,
        seed=3,
        days=4,
        speed=0.0,
        start=datetime(2025, 6, 2, 12, tzinfo=UTC),
        index_lag_seconds=240,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name=n, orders_per_day=args.orders_per_day) for n in names],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    reset_warehouse(args.warehouse)
    schedule = ScheduleSettings(concurrency=args.concurrency, build_after_tick=False)
    with start_in_subprocess(config) as sim:
        sim.quiesce()  # the source stops changing; the idle tick must find nothing
        sim.advance(1200)
        clock = ManualClock(sim.clock())
        settings = load_settings(
            overrides={
                "warehouse": {"url": args.warehouse},
                "sync": {"initial_days": 5, "requests_per_minute": 10_000_000},
            }
        )
        with Ordersync(settings, clock=clock) as app:
            for n in names:
                app.add_tenant(n, account=n, base_url=sim.base_url(n), app_key_env=KEY_ENV, app_token_env=TOKEN_ENV)
            worker = Worker(app, schedule, worker_id="bench")
            began = time.perf_counter()
            first = worker.tick()
            setup = time.perf_counter() - began
            landed = first.landed
            sim.advance(7 * 3600)  # every tenant is due again
            clock.set(sim.clock())
            before = sim.stats()
            began = time.perf_counter()
            report = worker.tick()
            seconds = time.perf_counter() - began
            after = sim.stats()
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in ("list", "get")} if "list" in after else None
    runs = [o for o in report.outcomes]
    ok = sum(1 for o in runs if o.status == "succeeded")
    list_calls = sum(o.counters.list_calls for o in runs)
    get_calls = sum(o.counters.get_calls for o in runs)
    print(f"warehouse          {'postgresql' if args.warehouse.startswith('postgresql') else 'duckdb'}")
    print(f"set-up tick        {args.tenants} tenants, {landed:,} versions landed in {setup:.1f} s")
    print(
        f"idle tick          {ok}/{args.tenants} incrementals succeeded in {seconds:.1f} s "
        f"({seconds / args.tenants * 1000:.1f} ms a tenant, {args.concurrency} at once)"
    )
    print(f"API calls          {list_calls:,} list ({list_calls / max(ok, 1):.1f} a tenant), {get_calls:,} get-order")
    print(f"landed             {report.landed} versions")
    if calls:
        print(f"simulator counted  {calls}")


if __name__ == "__main__":
    main()
