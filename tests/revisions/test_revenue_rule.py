"""The valid / pending / canceled rule has one home, the dbt macros of transform/dbt/macros/revenue.sql
(defaults in dbt_project.yml's vars): the as-of SQL renders them, and the Python twin
`effects.classify` is pinned to them here on both warehouses."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from importlib import resources

import pytest
import yaml  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync.config import OrdersSettings, WarehouseSettings
from ordersync.revisions.effects import classify
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.macros import revenue_rule

_STATUSES = ["canceled", "order-created", "invoiced", "it's", "a  b"]
_status = st.none() | st.sampled_from(_STATUSES)
_orders = st.builds(
    OrdersSettings,
    invalid_statuses=st.lists(st.sampled_from(_STATUSES), max_size=3, unique=True),
    pending_statuses=st.lists(st.sampled_from(_STATUSES), max_size=3, unique=True),
    pending_when_no_status=st.booleans(),
)
_rows = st.lists(st.tuples(_status, st.sampled_from([Decimal("-1.00"), Decimal(0), Decimal("0.01")])), min_size=1)


@pytest.fixture(scope="module")
def wh(shared_url: str) -> Iterator[Warehouse]:
    warehouse = open_warehouse(WarehouseSettings(url=shared_url))
    try:
        yield warehouse
    finally:
        warehouse.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_orders, _rows)
def test_effects_classify_agrees_with_the_macros(
    wh: Warehouse, orders: OrdersSettings, rows: list[tuple[str | None, Decimal]]
) -> None:
    rule = revenue_rule(wh.dialect, orders, "o")
    values = ", ".join("(CAST(? AS INTEGER), CAST(? AS VARCHAR), CAST(? AS DECIMAL(18, 2)))" for _ in rows)
    sql = (
        f"SELECT coalesce({rule['valid']}, false), coalesce({rule['pending']}, false), "
        f"coalesce({rule['canceled']}, false) FROM (VALUES {values}) AS o(i, status, total_value) ORDER BY o.i"
    )
    got = wh.query(sql, [x for i, (status, total) in enumerate(rows) for x in (i, status, total)])
    assert [tuple(map(bool, r)) for r in got] == [classify(status, total, orders) for status, total in rows]


def test_the_orders_defaults_are_the_dbt_projects_vars() -> None:
    project = resources.files("ordersync") / "transform" / "dbt" / "dbt_project.yml"
    dbt_vars = yaml.safe_load(project.read_text(encoding="utf-8"))["vars"]
    defaults = OrdersSettings()
    assert defaults.invalid_statuses == dbt_vars["invalid_statuses"]
    assert defaults.pending_statuses == dbt_vars["pending_statuses"]
    assert defaults.pending_when_no_status is dbt_vars["pending_when_no_status"]


def test_the_macros_state_no_default_of_their_own() -> None:
    macros = (resources.files("ordersync") / "transform" / "dbt" / "macros" / "revenue.sql").read_text(encoding="utf-8")
    for name in ("invalid_statuses", "pending_statuses", "pending_when_no_status"):
        assert f"build_var('{name}')" in macros


def test_the_as_of_sql_renders_the_macros() -> None:
    text = (resources.files("ordersync.revisions") / "sql" / "revenue_as_of.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    for marker in ("{is_canceled}", "{is_valid}", "{is_pending}"):
        assert marker in body
    assert "status in" not in body and "total_value >" not in body
