"""The newest-version order has one home, the dbt macro `latest_version_first`
(transform/dbt/macros/order_versions.sql): the as-of SQL and the reconciliation render it, and
the Python twin in revisions/effects.py is pinned to it here on both warehouses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync.config import WarehouseSettings
from ordersync.revisions.effects import OrderVersion, newest
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.macros import latest_version_first

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
# few values, so ties on every key are common; letters and signs whose byte order differs from a
# locale's collation ('B' < 'a' < '_' in bytes is not what en_US says)
_times = st.integers(0, 2).map(lambda n: T0 + timedelta(seconds=n))
_hashes = st.text(alphabet="aAbB_-0z", min_size=1, max_size=3)
#: (event_time, event_ingested_at, payload_hash)
Version = tuple[datetime, datetime | None, str]
_version = st.tuples(_times, st.none() | _times, _hashes)


@pytest.fixture(scope="module")
def wh(shared_url: str) -> Iterator[Warehouse]:
    warehouse = open_warehouse(WarehouseSettings(url=shared_url))
    try:
        yield warehouse
    finally:
        warehouse.close()


def _sql_newest(wh: Warehouse, versions: list[Version]) -> int:
    rows = ", ".join(
        "(CAST(? AS INTEGER), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS VARCHAR))" for _ in versions
    )
    params = [x for i, (t, ingested, h) in enumerate(versions) for x in (i, t, ingested, h)]
    sql = (
        f"SELECT i FROM (VALUES {rows}) AS v(i, event_time, event_ingested_at, payload_hash) "
        f"ORDER BY {latest_version_first(wh.dialect)}, i LIMIT 1"
    )
    return int(wh.query(sql, params)[0][0])  # type: ignore[call-overload]


def _python_newest(versions: list[Version]) -> int:
    as_objects = [
        OrderVersion("o", t, ingested or t, h, date(2026, 3, 1), None, Decimal(1), None) for t, ingested, h in versions
    ]
    best = newest(as_objects)
    assert best is not None
    return as_objects.index(best)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_version, min_size=1, max_size=6))
def test_effects_newest_agrees_with_the_macro(wh: Warehouse, versions: list[Version]) -> None:
    sql_pick = versions[_sql_newest(wh, versions)]
    python_pick = versions[_python_newest(versions)]
    # equal keys are the same version (the first of equals wins in both)
    assert (sql_pick[0], sql_pick[1] or sql_pick[0], sql_pick[2]) == (
        python_pick[0],
        python_pick[1] or python_pick[0],
        python_pick[2],
    )


@pytest.mark.parametrize("name", ["order_versions_as_of.sql", "order_versions_as_of.postgres.sql", "revenue_diff.sql"])
def test_the_as_of_sql_renders_the_macro_and_writes_no_order_of_its_own(name: str) -> None:
    text = (resources.files("ordersync.revisions") / "sql" / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    assert "{latest_version_first}, k.landing_id desc" in " ".join(body.split())
    assert "event_time desc" not in body.lower() and "payload_hash desc" not in body.lower()
