"""The customers list over HTTP at the dashboard issue's scale: `GET /v1/tenants/shop/customers?limit=100`
with 30,000 customers in the tenant (and as many in another), served by `serve` in this process.

Customers are written straight into cdp.customer_profiles, _clv, _rfm and _journey (one statement
each, values spread by arithmetic on the row number, every tenth without a CLV), so the figure is the
list's read alone. Timed: the first page `--requests` times, then a walk of `--pages` pages by cursor
(the cursor of each page taken from the answer); p50, p95 and max in milliseconds, and the answer's
size. One-off figures, no threshold: run it on the tree to measure (PYTHONPATH picks the source).

    PYTHONPATH=src .venv/bin/python bench/bench_lists.py                       # both warehouses
    PYTHONPATH=src .venv/bin/python bench/bench_lists.py --warehouse duckdb --customers 3000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from ordersync.config import ServeSettings, load_settings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.tenants.tokens import Scope

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
NOW = "2026-06-01 12:00:00+00"


def fill(app: Ordersync, tenant_id: int, customers: int) -> None:
    """`customers` customers of the tenant, one INSERT ... SELECT per table."""
    rows = f"FROM generate_series(1, {int(customers)}) AS g(i)"
    key = f"'cus_{tenant_id}_' || CAST(i AS TEXT)"
    app.wh.execute(
        "INSERT INTO cdp.customer_profiles (tenant_id, customer_key, orders, purchases, purchase_days, net_revenue, "
        f"currency_code, last_purchase_at, updated_at) SELECT ?, {key}, 1 + i % 7, 1 + i % 7, 1 + i % 5, "
        f"CAST((CAST(i AS BIGINT) * 104729) % 80000 AS NUMERIC(20, 2)) / 100, 'BRL', CAST(? AS TIMESTAMPTZ), "
        f"CAST(? AS TIMESTAMPTZ) {rows}",
        (tenant_id, NOW, NOW),
    )
    app.wh.execute(
        "INSERT INTO cdp.customer_clv (tenant_id, customer_key, model_version, p_alive, clv_12m, scored_for, "
        f"updated_at) SELECT ?, {key}, 'm1', (i % 100) / 100.0, CASE WHEN i % 10 = 0 THEN NULL ELSE "
        f"CAST((CAST(i AS BIGINT) * 7919) % 50000 AS NUMERIC(20, 2)) / 100 END, DATE '2026-06-01', "
        f"CAST(? AS TIMESTAMPTZ) {rows}",
        (tenant_id, NOW),
    )
    app.wh.execute(
        "INSERT INTO cdp.customer_rfm (tenant_id, customer_key, frequency, monetary, r_score, f_score, m_score, "
        f"segment, scored_for, updated_at) SELECT ?, {key}, 1, 0, 1 + i % 5, 1 + i % 4, 1 + i % 3, "
        "CASE WHEN i % 3 = 0 THEN 'champions' WHEN i % 3 = 1 THEN 'at_risk' ELSE 'hibernating' END, "
        f"DATE '2026-06-01', CAST(? AS TIMESTAMPTZ) {rows}",
        (tenant_id, NOW),
    )
    app.wh.execute(
        "INSERT INTO cdp.customer_journey (tenant_id, customer_key, stage, stage_changed_at, scored_for, updated_at) "
        f"SELECT ?, {key}, CASE WHEN i % 2 = 0 THEN 'active' ELSE 'lapsed' END, DATE '2026-06-01', "
        f"DATE '2026-06-01', CAST(? AS TIMESTAMPTZ) {rows}",
        (tenant_id, NOW),
    )


def _figures(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"  {label:<28} n={len(ms):<4} p50 {statistics.median(ms):8.1f} ms  p95 {p95:8.1f} ms  max {ms[-1]:8.1f} ms")


def run(backend: str, customers: int, requests: int, pages: int, state: Path) -> None:
    if backend == "duckdb":
        url, drop = str(state / f"lists-{uuid.uuid4().hex[:6]}.duckdb"), None
    else:
        name = f"bench_lists_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_SERVER, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        url, drop = f"{PG_SERVER}/{name}", name
    try:
        settings = load_settings(overrides={"warehouse": {"url": url}, "dbt": {"state_dir": str(state / "dbt")}})
        with Ordersync(settings) as setup:
            setup.upgrade()
            for tenant in ("shop", "other"):
                setup.add_tenant(tenant, platform="push", account=None, base_url=None, app_key_env=None,
                                 app_token_env=None)  # fmt: skip
                began = time.perf_counter()
                fill(setup, setup.tenants.get(tenant).tenant_id, customers)
                print(f"{backend}: {tenant} {customers:,} customers written in {time.perf_counter() - began:.1f} s")
            token = setup.create_token(None, "bench", scope=Scope.ADMIN)[1]
        app = Ordersync(settings)
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        with serving_in_thread(app, options) as (base, _serve), httpx.Client(timeout=120) as http:
            headers = {"Authorization": f"Bearer {token}"}
            path = f"{base}/v1/tenants/shop/customers"

            def get(**params: object) -> tuple[float, dict[str, object]]:
                began = time.perf_counter()
                r = http.get(path, headers=headers, params={"limit": 100, **params})
                took = (time.perf_counter() - began) * 1000
                r.raise_for_status()
                return took, r.json()

            get()  # warm: the first request opens the reading connections
            first = [get()[0] for _ in range(requests)]
            _figures("first page (limit=100)", first)
            walk, cursor = [], None
            for _ in range(pages):
                took, body = get(**({"cursor": cursor} if cursor else {}))
                walk.append(took)
                cursor = body["next"]  # type: ignore[assignment]
                if cursor is None:
                    break
            _figures(f"walk by cursor ({len(walk)} pages)", walk)
            _figures("segment=champions", [get(segment="champions")[0] for _ in range(requests)])
    finally:
        if drop:
            with psycopg.connect(PG_SERVER, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", choices=("duckdb", "postgres"), action="append")
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--pages", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as folder:
        for backend in args.warehouse or ["duckdb", "postgres"]:
            run(backend, args.customers, args.requests, args.pages, Path(folder))


if __name__ == "__main__":
    main()
