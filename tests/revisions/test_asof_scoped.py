"""The as-of answers rank only the orders they need (a day range's orders; a diff's orders on the
days touched between its two moments): the answers are those of ranking every order (a diff's: two
whole as-of answers), also for an order moved to another day, a new order and a reversed diff. No
build: the landing ledger alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.revisions import asof
from support.revisions import diff_matches_as_of, event, new_push_tenant, push

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
CLOCK_START = NOW  # the `clock` fixture's start (tests/conftest.py)
H = timedelta(hours=1)
DAYS = [date(2026, 6, 1) + timedelta(days=i) for i in range(10)]


@pytest.fixture
def app(warehouse_url: str, clock: ManualClock, tmp_path: Any) -> Iterator[Ordersync]:
    clock.set(CLOCK_START)  # a fresh warehouse per test, and the clock back at the start
    settings = load_settings(overrides={"warehouse": {"url": warehouse_url}, "dbt": {"state_dir": str(tmp_path)}})
    with Ordersync(settings, clock=clock) as facade:
        facade.init()
        yield facade


def summary(diffs: list[asof.DayDiff]) -> list[tuple[Any, ...]]:
    return [(d.order_date, d.before.revenue, d.after.revenue, sorted(c.order_id for c in d.orders)) for d in diffs]


def test_ranking_only_the_needed_orders_gives_the_same_answers(app: Ordersync, clock: ManualClock) -> None:
    t = new_push_tenant(app)
    base = NOW - 10 * 24 * H
    # two orders a day, o0..o19, totals 10, 11, ...
    push(app, t, [event(f"o{i}", base, day=DAYS[i // 2], total=f"{10 + i}.00") for i in range(20)])
    clock.advance(H)
    t1 = clock.now()
    app.revenue(t.tenant_name, as_of=t1)  # seals the first batch
    clock.advance(H)
    push(
        app,
        t,
        [
            event("o2", base + H, day=DAYS[1], total="50.00"),  # revised total
            event("o4", base + H, day=DAYS[7], total="14.00"),  # moved from DAYS[2] to DAYS[7]
            event("o6", base + H, day=DAYS[3], status="canceled", total="16.00"),
            event("n1", base + H, day=DAYS[8], total="5.00"),  # new
        ],
    )
    clock.advance(H)
    t2 = clock.now()

    forward = diff_matches_as_of(app, t.tenant_name, t1, t2)
    assert summary(forward) == [
        (DAYS[1], Decimal("25.00"), Decimal("63.00"), ["o2"]),
        (DAYS[2], Decimal("29.00"), Decimal("15.00"), ["o4"]),
        (DAYS[3], Decimal("33.00"), Decimal("17.00"), ["o6"]),
        (DAYS[7], Decimal("49.00"), Decimal("63.00"), ["o4"]),
        (DAYS[8], Decimal("53.00"), Decimal("58.00"), ["n1"]),
    ]
    moved = next(c for c in forward[1].orders if c.order_id == "o4")
    assert moved.before is not None and moved.after is not None
    assert (moved.before["order_date"], moved.after["order_date"]) == (DAYS[2], DAYS[7])
    new = forward[4].orders[0]
    assert new.before is None and new.after is not None and new.after["total_value"] == Decimal("5.00")

    backward = diff_matches_as_of(app, t.tenant_name, t2, t1)
    assert summary(backward) == [(d, after, before, ids) for d, before, after, ids in summary(forward)]
    assert app.revenue_diff(t1, t1, tenant=t.tenant_name) == []

    whole = {d.order_date: d for d in app.revenue(t.tenant_name, as_of=t2).days}
    for day in (DAYS[2], DAYS[7]):  # one day's answer ranks only that day's orders
        (only,) = app.revenue(t.tenant_name, day_from=day, day_to=day, as_of=t2).days
        assert only == whole[day]
    since = app.revenue(t.tenant_name, day_from=DAYS[7], as_of=t2).days
    assert [d.order_date for d in since] == DAYS[7:]
    assert since == [whole[d] for d in DAYS[7:]]
