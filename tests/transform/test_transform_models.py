"""The dbt models on real warehouses: data tests, version guard, idempotence, no full refresh,
one result on both backends, and the seed's monitoring queries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.transform import DbtWarehouse, landing_row, open_dbt_warehouse

pytestmark = pytest.mark.dbt

T0 = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_build_runs_the_data_tests_and_a_second_build_changes_nothing(dbt_wh: DbtWarehouse) -> None:
    dbt_wh.land(
        [
            landing_row(1, "A-1", T0, T0 + HOUR, "h1"),
            landing_row(1, "A-1", T0 + HOUR, T0 + 2 * HOUR, "h2"),
            landing_row(1, "A-2", T0, None, "h3"),
            landing_row(2, "A-1", T0, T0 + HOUR, "h4"),  # same order_id, another tenant
        ]
    )
    first = dbt_wh.build()
    statuses = {n.name: n.status for n in first.nodes}
    assert statuses == {
        "stg_orders": "success",
        "fct_orders": "success",
        "order_events": "success",
        "revenue_daily": "success",
        "unique_together_revenue_daily_tenant_id__order_date__currency_code": "pass",
        "unique_fct_orders_order_key": "pass",
        "not_null_fct_orders_order_key": "pass",
        "not_null_fct_orders_tenant_id": "pass",
        "not_null_fct_orders_order_id": "pass",
    }
    assert first.seconds > 0
    after_first = dbt_wh.fct()
    assert after_first == dbt_wh.expected_fct()
    current = {(r[0], r[1], r[13]) for r in after_first}
    assert current == {(1, "A-1", "h2"), (1, "A-2", "h3"), (2, "A-1", "h4")}

    dbt_wh.build()
    assert dbt_wh.fct() == after_first


def test_every_model_lives_in_schema_cdp(dbt_wh: DbtWarehouse) -> None:
    dbt_wh.land([landing_row(1, "A-1", T0, T0, "h1")])
    dbt_wh.build()
    relations = dbt_wh.wh.query(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_name IN ('stg_orders', 'fct_orders', 'order_events') ORDER BY table_name"
    )
    assert relations == [
        ("cdp", "fct_orders", "BASE TABLE"),
        ("cdp", "order_events", "VIEW"),
        ("cdp", "stg_orders", "VIEW"),
    ]
    stg_columns = [
        r[0]
        for r in dbt_wh.wh.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'cdp' AND table_name = 'stg_orders' ORDER BY ordinal_position"
        )
    ]
    assert "payload" not in stg_columns
    assert {"landing_id", "event_ingested_at", "payload_hash", "source", "run_id"} <= set(stg_columns)


def test_a_stale_version_landing_late_never_wins(dbt_wh: DbtWarehouse) -> None:
    # The newer version lands on time and is built.
    dbt_wh.land([landing_row(1, "A-1", T0 + 2 * HOUR, T0 + 3 * HOUR, "new")])
    dbt_wh.build(lookback_days=1)
    # Other orders land days later: the watermark moves and "new" leaves the lookback window.
    dbt_wh.land([landing_row(1, "A-2", T0 + 5 * DAY, T0 + 5 * DAY, "other")])
    dbt_wh.build(lookback_days=1)
    # A stale version of A-1 (older event_time) arrives much later than the newer one.
    dbt_wh.land([landing_row(1, "A-1", T0 + HOUR, T0 + 10 * DAY, "stale")])
    dbt_wh.build(lookback_days=1)

    def current(order_id: str) -> str:
        return str(dbt_wh.wh.scalar("SELECT payload_hash FROM cdp.fct_orders WHERE order_id = ?", (order_id,)))

    assert current("A-1") == "new"
    # A version that is really newer still wins, however late it lands.
    dbt_wh.land([landing_row(1, "A-1", T0 + 4 * HOUR, T0 + 11 * DAY, "newest")])
    dbt_wh.build(lookback_days=1)
    assert current("A-1") == "newest"
    # On an event_time tie the later processing time wins, before payload_hash is looked at.
    dbt_wh.land([landing_row(1, "A-2", T0 + 5 * DAY, T0 + 11 * DAY, "a-retry")])
    dbt_wh.build(lookback_days=1)
    assert current("A-2") == "a-retry"
    assert dbt_wh.fct() == dbt_wh.expected_fct()


def test_full_refresh_leaves_fct_orders_as_it_is(dbt_wh: DbtWarehouse) -> None:
    dbt_wh.land(
        [
            landing_row(1, "A-1", T0, T0, "h1"),
            landing_row(1, "A-2", T0, T0, "h2"),
        ]
    )
    dbt_wh.build()
    before = dbt_wh.fct()
    # Landing rows purged (retention, say): a rebuild from landing could not bring A-1 back.
    dbt_wh.wh.execute("DELETE FROM cdp.orders_landing WHERE order_id = 'A-1'")
    dbt_wh.land([landing_row(1, "A-3", T0 + DAY, T0 + DAY, "h3")])

    result = dbt_wh.build(full_refresh=True)

    assert result.node("fct_orders").status == "success"
    after = dbt_wh.fct()
    assert before <= after
    assert {r[1] for r in after} == {"A-1", "A-2", "A-3"}


@pytest.mark.postgres
@pytest.mark.slow  # six builds on two warehouses
def test_duckdb_and_postgres_build_the_same_fct_orders(tmp_path: Path, pg_icu_url: str) -> None:
    """Same landings, same builds: same rows on both backends, ties included. The PostgreSQL
    database collates 'a' before 'B', so payload_hash ties must still break in byte order."""
    duck = open_dbt_warehouse(str(tmp_path / "wh.duckdb"), tmp_path / "duck-state")
    pg = open_dbt_warehouse(pg_icu_url, tmp_path / "pg-state")
    try:
        rng = random.Random(20240301)
        batches = []
        serial = 0
        for step in range(3):
            rows = []
            for n in range(150):
                event_time = T0 + rng.choice([0, 1, 2]) * HOUR
                # a whole batch shares one landing time, so ties on (event_time, processing time)
                # are common; null (on time) only in the first, legacy batch
                ingested = None if step == 0 and rng.random() < 0.3 else T0 + (3 + step) * DAY
                # unique per order, mixed case: byte order and the ICU collation disagree on them
                serial += 1
                digest = rng.choice("aAbB") + rng.choice("aAbB") + f"{serial:04d}"
                rows.append(landing_row(rng.randint(1, 3), f"O-{n % 40}", event_time, ingested, digest))
            batches.append(rows)
        for rows in batches:
            for w in (duck, pg):
                w.land(rows)
                w.build(lookback_days=0.5)
            assert duck.fct() == duck.expected_fct()
            # landing_id comes from each warehouse's sequence, in its own insertion order
            assert _without_landing_id(duck.fct()) == _without_landing_id(pg.fct())
    finally:
        duck.close()
        pg.close()


def _without_landing_id(rows: set[tuple[object, ...]]) -> set[tuple[object, ...]]:
    return {r[:14] + r[15:] for r in rows}


@pytest.mark.postgres
def test_the_monitoring_queries_run_on_postgres(pg_url: str, tmp_path: Path) -> None:
    w = open_dbt_warehouse(pg_url, tmp_path / "dbt-state")
    try:
        now = datetime.now(UTC)
        today = now.date()  # the warehouse session runs in UTC
        tenants = {}
        for name in ("current", "behind"):
            tenants[name] = int(
                w.wh.scalar(
                    "INSERT INTO cdp.tenants (tenant_name, account, base_url, created_at) "
                    "VALUES (?, ?, ?, ?) RETURNING tenant_id",
                    (name, name, "http://localhost", now),
                )
            )
        w.land(
            [
                landing_row(tenants["current"], "A-1", now, now, "h1", order_date=today),
                landing_row(tenants["current"], "A-2", now, now, "h2", order_date=today - timedelta(days=2)),
                landing_row(tenants["current"], "A-3", now, now, "h3", order_date=today - timedelta(days=30)),
                landing_row(tenants["behind"], "B-1", now, now, "h4", order_date=today - timedelta(days=5)),
            ]
        )
        w.build()

        daily = w.wh.query(
            """SELECT DATE(order_date) as date, COUNT(*) as new_orders
FROM cdp.order_events
WHERE order_date >= CURRENT_DATE - INTERVAL '7 days'
GROUP BY DATE(order_date)
ORDER BY date DESC;"""
        )
        assert daily == [
            (today, 1),
            (today - timedelta(days=2), 1),
            (today - timedelta(days=5), 1),
        ]
        gaps = w.wh.query(
            """SELECT
tenant_name,
MAX(order_date) as last_order,
CURRENT_DATE - DATE(MAX(order_date)) as days_behind
FROM cdp.tenants t
JOIN cdp.order_events o ON t.tenant_id = o.tenant_id
GROUP BY tenant_name
HAVING CURRENT_DATE - DATE(MAX(order_date)) > 1;"""
        )
        assert gaps == [("behind", today - timedelta(days=5), 5)]
    finally:
        w.close()
