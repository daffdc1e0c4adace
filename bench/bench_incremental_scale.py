"""The cost of one incremental cycle (sync + dbt build) next to 100,000 and 2,000,000 landed rows.

The cycle's work should follow what changed, not history: a tenant whose store changes for one
simulated hour is synced and built once the warehouse already holds --history rows of older
versions (for it and for other tenants, landed more than the dbt lookback ago).

    .venv/bin/python bench/bench_incremental_scale.py --warehouse /tmp/scale.duckdb
    .venv/bin/python bench/bench_incremental_scale.py --warehouse postgresql://postgres@127.0.0.1:5432/scale
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess

KEY_ENV, TOKEN_ENV = "BENCH_APP_KEY", "BENCH_APP_TOKEN"
START = datetime(2025, 6, 2, 12, tzinfo=UTC)

# Older versions of other orders: small payloads, landed a year ago (outside any lookback).
FILL_DUCKDB = """
INSERT INTO cdp.orders_landing (tenant_id, order_id, event_time, event_ingested_at, order_date, creation_date,
    status, total_value, currency_code, sales_channel, customer_id, customer_email, customer_name, payload,
    payload_hash, source, run_id)
SELECT 1000 + (i % 50), 'hist-' || i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '7 second',
    TIMESTAMPTZ '2024-06-01 00:00:00+00', DATE '2024-01-01' + CAST(floor(i / 20000.0) AS INTEGER),
    TIMESTAMPTZ '2024-01-01 00:00:00+00', 'invoiced', 99.90, 'BRL', '1', 'c' || (i % 5000),
    'c' || (i % 5000) || '@example.com', 'Name', repeat('x', 400), md5(CAST(i AS VARCHAR)), 'bench', NULL
FROM range(?) t(i)
"""
FILL_POSTGRES = FILL_DUCKDB.replace("FROM range(?) t(i)", "FROM generate_series(0, ? - 1) t(i)").replace(
    "CAST(i AS VARCHAR)", "CAST(i AS TEXT)"
)


def cycle(app: Ordersync, sim: object, clock: ManualClock) -> tuple[float, float]:
    sim.advance(3600)  # type: ignore[attr-defined]
    clock.set(sim.clock())  # type: ignore[attr-defined]
    began = time.perf_counter()
    report = app.sync(["shop"], build=False)
    assert report.ok, report.outcomes[0].error
    synced = time.perf_counter() - began
    began = time.perf_counter()
    app.build()
    return synced, time.perf_counter() - began


def measure(url: str, history: int, cycles: int) -> tuple[float, float]:
    reset_warehouse(url)
    config = SimulatorConfig(
        port=0,
        seed=9,
        days=5,
        speed=0.0,
        start=START,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name="shop", orders_per_day=500)],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    with start_in_subprocess(config) as sim:
        clock = ManualClock(sim.clock())
        settings = load_settings(
            overrides={"warehouse": {"url": url}, "sync": {"initial_days": 6, "requests_per_minute": 10_000_000}}
        )
        with Ordersync(settings, clock=clock) as app:
            app.add_tenant(
                "shop", account="shop", base_url=sim.base_url("shop"), app_key_env=KEY_ENV, app_token_env=TOKEN_ENV
            )
            with app.wh.transaction():
                app.wh.execute(FILL_POSTGRES if app.wh.dialect == "postgres" else FILL_DUCKDB, (history,))
            if app.wh.dialect == "postgres":
                app.wh.execute("ANALYZE cdp.orders_landing")
            assert app.sync(["shop"]).ok  # first sync and the first (full) build
            rows = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")
            timings = [cycle(app, sim, clock) for _ in range(cycles)]
    sync_s = statistics.median(t[0] for t in timings)
    build_s = statistics.median(t[1] for t in timings)
    print(
        f"  {rows:>10,} landed rows: sync {sync_s:.2f} s, build {build_s:.2f} s, cycle {sync_s + build_s:.2f} s "
        f"(median of {cycles})"
    )
    return sync_s, build_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default="/tmp/ordersync-scale.duckdb")
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--large", type=int, default=2_000_000)
    ap.add_argument("--cycles", type=int, default=5)
    args = ap.parse_args()
    print(f"warehouse {'postgresql' if args.warehouse.startswith('postgresql') else 'duckdb'}")
    small = measure(args.warehouse, args.small, args.cycles)
    large = measure(args.warehouse, args.large, args.cycles)
    print(
        f"ratio large/small: sync {large[0] / small[0]:.2f}, build {large[1] / small[1]:.2f}, "
        f"cycle {sum(large) / sum(small):.2f}"
    )


if __name__ == "__main__":
    main()
