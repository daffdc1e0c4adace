"""No value validation lets in can break a build: the largest totals, many of them on one day, zero and
the smallest cent, pushed and built on both warehouses, with revenue_daily's sums exact."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync.facade import Ordersync
from ordersync.land.records import MAX_CENTS
from ordersync.tenants import Tenant
from ordersync.warehouse.migrate import upgrade
from support.properties import examples
from support.revisions import event, new_push_tenant, push

pytestmark = pytest.mark.dbt

CLOCK_START = datetime(2024, 6, 10, 12, tzinfo=UTC)
#: The largest total_value validation lets in.
LARGEST = Decimal(MAX_CENTS) / 100
CENT = Decimal("0.01")
_orders = itertools.count(1)


@pytest.fixture
def app(push_app: Ordersync) -> Ordersync:
    return push_app


def revenue_rows(app: Ordersync, tenant: Tenant) -> dict[date, tuple[int, int, Decimal, Decimal, Decimal]]:
    rows = app.wh.query(
        "SELECT order_date, orders, valid_orders, revenue, pending_value, average_order_value "
        "FROM cdp.revenue_daily WHERE tenant_id = ? ORDER BY order_date",
        (tenant.tenant_id,),
    )
    return {r[0]: (int(r[1]), int(r[2]), Decimal(r[3]), Decimal(r[4]), Decimal(r[5] or 0)) for r in rows}


def test_two_of_the_largest_totals_on_one_day_build(app: Ordersync) -> None:
    # Two totals of 9,000,000,000,000,000.00 on one day used to pass validation and overflow
    # revenue_daily's NUMERIC(18, 2), failing every build. Validation now refuses them (12 integer
    # digits at most); versions landed before that bound, which the landing column still holds, build.
    tenant = new_push_tenant(app)
    at = CLOCK_START - timedelta(hours=2)
    total = Decimal("9000000000000000.00")
    refused = push(app, tenant, [event("HUGE-1", at, total=total)], check=False)
    assert refused["quarantined"] == 1 and "at most 999,999,999,999.99" in refused["errors"][0]["reason"]
    push(app, tenant, [event("BIG-1", at, total=LARGEST), event("BIG-2", at, total=LARGEST)])
    app.wh.execute("UPDATE cdp.orders_landing SET total_value = ? WHERE tenant_id = ?", (total, tenant.tenant_id))
    app.build()
    day = at.date()
    assert revenue_rows(app, tenant)[day][:4] == (2, 2, 2 * total, Decimal(0))
    fct = app.wh.query("SELECT total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tenant.tenant_id,))
    assert sorted(Decimal(r[0]) for r in fct) == [total, total]


#: The extremes validation allows for one order's total.
EXTREMES = st.sampled_from([LARGEST, LARGEST - CENT, Decimal("0.00"), CENT, Decimal("1.00")])


@settings(
    max_examples=examples(3),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    days=st.lists(
        st.lists(
            st.tuples(EXTREMES, st.sampled_from(["invoiced", "payment-pending", "canceled"])), min_size=1, max_size=40
        ),
        min_size=1,
        max_size=3,
    )
)
def test_the_extremes_validation_allows_build_with_exact_sums(
    app: Ordersync, days: list[list[tuple[Decimal, str]]]
) -> None:
    tenant = new_push_tenant(app)
    expected: dict[date, tuple[int, int, Decimal, Decimal, Decimal]] = {}
    events = []
    for n, orders in enumerate(days):
        at = CLOCK_START - timedelta(days=n + 1)
        for total, status in orders:
            events.append(event(f"X-{next(_orders)}", at, total=total, status=status))
        valid = [t for t, s in orders if s != "canceled" and t > 0]
        revenue = sum(valid, Decimal("0.00"))
        pending = sum((t for t, s in orders if s == "payment-pending" and t > 0), Decimal("0.00"))
        average = (revenue / len(valid)).quantize(CENT, ROUND_HALF_UP) if valid else Decimal(0)
        expected[at.date()] = (len(orders), len(valid), revenue, pending, average)
    push(app, tenant, events)
    app.build()
    # every sum exact, and the average exact to the cent (rounded half up)
    assert revenue_rows(app, tenant) == expected
    # and `ordersync verify`'s recomputation agrees with the model, to the cent
    report = app.verify(tenant=tenant.tenant_name, checks=["revenue_daily"])
    assert report.ok, report.as_dict()


def test_a_warehouse_built_before_the_widening_is_widened_by_its_migration(app: Ordersync) -> None:
    tenant = new_push_tenant(app)
    at = CLOCK_START - timedelta(hours=3)
    push(app, tenant, [event("OLD-1", at, total="10.00")])
    app.build()
    # as the models left revenue_daily before migration 0008
    for column in ("revenue", "pending_value", "canceled_value", "average_order_value", "previous_revenue"):
        app.wh.execute(f"ALTER TABLE cdp.revenue_daily ALTER COLUMN {column} TYPE NUMERIC(18, 2)")
    app.wh.execute("DELETE FROM cdp.schema_migrations WHERE version = 8")
    upgrade(app.wh)
    push(app, tenant, [event(f"BIG-{n}", at, total=LARGEST) for n in range(3)])
    app.build()
    assert revenue_rows(app, tenant)[at.date()][:3] == (4, 4, 3 * LARGEST + 10)
