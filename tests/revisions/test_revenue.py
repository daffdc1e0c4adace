"""revenue_daily and `ordersync revenue` on both warehouses: the definitions (valid, pending,
canceled, the [orders] settings), partitions recomputed exactly when their orders changed (a moved
order zeroes its old day), answers as of a moment reproduced exactly after later landings, the
diff between two moments with the orders that caused it, and the refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.errors import ConfigError, RefusedError
from ordersync.facade import Ordersync
from ordersync.paging import decode
from ordersync.reads import Reads
from ordersync.revisions.asof import DayRevenue, Days
from ordersync.revisions.past import PastAnswers
from ordersync.revisions.shapes import revenue_row
from support.revisions import event, new_push_tenant, push

pytestmark = pytest.mark.dbt

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
CLOCK_START = NOW  # the `clock` fixture's start (tests/conftest.py)
D1, D2, D3 = date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)
H = timedelta(hours=1)


def days(app: Ordersync, tenant: str, **kw: object) -> dict[tuple[date, str], DayRevenue]:
    return {(d.order_date, d.currency_code): d for d in app.revenue(tenant, **kw).days}  # type: ignore[arg-type]


def test_the_daily_figures_follow_the_definitions(app: Ordersync, clock: ManualClock) -> None:
    clock.set(NOW)
    t = new_push_tenant(app)
    push(
        app,
        t,
        [
            event("paid", NOW - 9 * 24 * H, total="100.00", day=D1),
            event("booked", NOW - 9 * 24 * H, status="payment-pending", total="40.50", day=D1),
            event("created", NOW - 9 * 24 * H, status="order-created", total="9.50", day=D1),
            event("gone", NOW - 9 * 24 * H, status="canceled", total="30.00", day=D1),
            event("free", NOW - 9 * 24 * H, total="0", day=D1),
            event("usd", NOW - 9 * 24 * H, total="7.00", day=D1, currency="USD"),
        ],
    )
    app.build()
    got = days(app, t.tenant_name)
    brl = got[(D1, "BRL")]
    # valid: paid, booked, created; free has no value, gone is canceled
    assert (brl.orders, brl.valid_orders, brl.revenue) == (5, 3, Decimal("150.00"))
    assert (brl.pending_orders, brl.pending_value) == (2, Decimal("50.00"))
    assert (brl.canceled_orders, brl.canceled_value) == (1, Decimal("30.00"))
    assert brl.average_order_value == Decimal("50.00")
    assert (got[(D1, "USD")].orders, got[(D1, "USD")].revenue) == (1, Decimal("7.00"))
    # the same answer recomputed from the ledger, as of the instant the build reported
    built = app.revenue(t.tenant_name)
    assert built.as_of is not None
    assert app.revenue(t.tenant_name, as_of=built.as_of).days == built.days


def test_only_changed_days_are_recomputed_and_a_moved_order_zeroes_its_old_day(
    app: Ordersync, clock: ManualClock
) -> None:
    clock.set(NOW)
    t = new_push_tenant(app)
    base = NOW - 10 * 24 * H
    push(app, t, [event("a", base, day=D1), event("b", base, day=D2), event("c", base, day=D3)])
    app.build()

    def stamps() -> dict[date, object]:
        rows = app.wh.query("SELECT order_date, built_at FROM cdp.revenue_daily WHERE tenant_id = ?", (t.tenant_id,))
        return {r[0]: r[1] for r in rows}

    first = stamps()
    # b is canceled; c moves from D3 to D1 (its creation date was corrected)
    push(app, t, [event("b", base + H, status="canceled", day=D2), event("c", base + H, day=D1)])
    app.build()
    second = stamps()
    assert second[D1] != first[D1] and second[D2] != first[D2] and second[D3] != first[D3]
    got = days(app, t.tenant_name)
    assert (got[(D1, "BRL")].orders, got[(D1, "BRL")].revenue) == (2, Decimal("200.00"))
    assert (got[(D2, "BRL")].valid_orders, got[(D2, "BRL")].revenue) == (0, Decimal("0.00"))
    assert (D3, "BRL") not in got  # no order left on it
    zero = app.wh.query(
        "SELECT orders, revenue FROM cdp.revenue_daily WHERE tenant_id = ? AND order_date = ?", (t.tenant_id, D3)
    )
    assert [(int(o), Decimal(r)) for o, r in zero] == [(0, Decimal("0.00"))]
    # a change to D2 alone recomputes D2 and nothing else
    push(app, t, [event("b", base + 2 * H, status="invoiced", day=D2, total="55.00")])
    app.build()
    third = stamps()
    assert third[D2] != second[D2]
    assert third[D1] == second[D1] and third[D3] == second[D3]
    # a build with nothing new recomputes nothing
    app.build()
    assert stamps() == third


def test_an_answer_as_of_a_moment_is_reproduced_after_later_landings(app: Ordersync, clock: ManualClock) -> None:
    clock.set(NOW)
    t = new_push_tenant(app)
    base = NOW - 12 * 24 * H
    push(app, t, [event("a", base, day=D1, total="10.00"), event("b", base, day=D2, total="20.00")])
    clock.advance(H)
    t1 = clock.now()
    answer_t1 = app.revenue(t.tenant_name, as_of=t1)
    clock.advance(H)
    # late versions: one revises D1, a stale one (older event_time) changes nothing
    push(app, t, [event("a", base + H, day=D1, total="15.00"), event("b", base - H, day=D2, total="99.00")])
    clock.advance(H)
    t2 = clock.now()
    assert app.revenue(t.tenant_name, as_of=t1) == answer_t1
    later = days(app, t.tenant_name, as_of=t2)
    assert later[(D1, "BRL")].revenue == Decimal("15.00") and later[(D2, "BRL")].revenue == Decimal("20.00")

    revised = app.revenue_diff(t1, t2, tenant=t.tenant_name)
    assert [(d.order_date, d.before.revenue, d.after.revenue, d.delta) for d in revised] == [
        (D1, Decimal("10.00"), Decimal("15.00"), Decimal("5.00"))
    ]
    assert [c.order_id for c in revised[0].orders] == ["a"]
    assert app.revenue_diff(t2, t2, tenant=t.tenant_name) == []


def test_as_of_refuses_the_future_and_a_moment_without_zone(app: Ordersync, clock: ManualClock) -> None:
    clock.set(NOW)
    with pytest.raises(ConfigError, match="in the future"):
        app.revenue(as_of=NOW + H)
    with pytest.raises(ConfigError, match="no time zone"):
        app.revenue(as_of=datetime(2026, 6, 1, 0, 0))


def test_production_refuses_every_full_refresh(
    app: Ordersync, shared_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    # `app` migrates the module's warehouse: under xdist this test may be its worker's first of the module
    settings = load_settings(
        overrides={
            "warehouse": {"url": shared_url},
            "dbt": {"state_dir": str(tmp_path / "dbt")},
            "environment": {"name": "production"},
        }
    )
    with Ordersync(settings, clock=clock) as prod:
        before = prod.recent_builds(1000)
        with pytest.raises(RefusedError, match="refused in production"):
            prod.build(full_refresh=True)
        assert prod.recent_builds(1000) == before  # refused before anything ran or was logged


def test_the_apis_pages_of_revenue_as_built_are_the_whole_answer_in_its_order(
    app: Ordersync, clock: ManualClock
) -> None:
    """/v1/revenue reads revenue_daily a page at a time in (tenant name, day, currency) order, names
    compared by bytes as Python compares them: the pages put together are the whole answer."""
    clock.set(NOW)
    for prefix in ("zeta", "b_x", "b-x", "b9"):  # a locale's collation would not order these by bytes
        t = new_push_tenant(app, prefix)
        push(
            app,
            t,
            [
                event(f"{prefix}-{n}", NOW - 9 * 24 * H, total="10.00", day=day, currency=currency)
                for n, (day, currency) in enumerate([(D1, "BRL"), (D1, "USD"), (D2, "BRL"), (D3, "EUR")])
            ],
        )
    app.build()
    reads = Reads(app)
    names = {t.tenant_id: t.tenant_name for t in app.list_tenants()}
    whole = sorted(
        (revenue_row(d, names) for d in app.revenue().days), key=lambda i: (i["tenant"], i["date"], i["currency"])
    )
    seen: list[dict[str, object]] = []
    after = None
    while True:
        page = reads.revenue(None, None, None, after, 3)
        assert page.context["as_of"] == app.revenue().as_of.isoformat()  # type: ignore[union-attr]
        seen += page.data
        if page.next is None:
            break
        assert len(page.data) == 3
        after = decode(page.next)
    assert seen == whole and len(whole) >= 16


def _after_every_seal(app: Ordersync, clock: ManualClock) -> datetime:
    """The clock set an hour after every seal so far (a seal's instant never goes back, whatever the
    clock says), and that moment."""
    last = app.wh.scalar("SELECT max(committed_at) FROM cdp.landing_batches")
    clock.set(max(NOW, last or NOW) + H)
    return clock.now()


def test_an_answer_about_a_moment_before_the_seal_is_kept_and_one_about_now_is_not(
    app: Ordersync, clock: ManualClock
) -> None:
    start = _after_every_seal(app, clock)
    t = new_push_tenant(app)
    push(app, t, [event("kept-1", start - 2 * H, total="12.00", day=D1)])
    clock.advance(H)
    app.past = PastAnswers()
    sealed = app.revenue(t.tenant_name, as_of=clock.now())  # the seal's own instant: a later batch may get it too
    assert len(app.past._kept) == 0 and sealed.days[0].revenue == Decimal("12.00")
    clock.advance(H)
    first = app.revenue(t.tenant_name, as_of=start + H)
    push(app, t, [event("kept-2", start - H, total="5.00", day=D1)])  # known after the moment asked about
    assert app.past.answer((start + H, Days(t.tenant_id)), lambda: pytest.fail("not kept")) == first == sealed
    assert app.revenue(t.tenant_name, as_of=start + H) == first
    assert len(app.past._kept) == 1


def test_a_diff_between_moments_before_the_seal_is_kept_and_one_against_now_is_not(
    app: Ordersync, clock: ManualClock
) -> None:
    start = _after_every_seal(app, clock)
    t = new_push_tenant(app)
    push(app, t, [event("diff-kept-1", start - 2 * H, total="12.00", day=D1)])
    clock.advance(H)
    app.past_diffs = PastAnswers()
    against_now = app.revenue_diff(start, None, t.tenant_name)  # now: a later batch may be sealed at it
    assert len(app.past_diffs._kept) == 0 and [d.delta for d in against_now] == [Decimal("12.00")]
    clock.advance(H)
    first = app.revenue_diff(start, start + H, t.tenant_name)
    push(app, t, [event("diff-kept-2", start - H, total="5.00", day=D1)])  # known after both moments
    days = Days(t.tenant_id)
    assert app.past_diffs.answer((start, start + H, days), lambda: pytest.fail("not kept")) == first == against_now
    assert app.revenue_diff(start, start + H, t.tenant_name) == first
    assert [d.delta for d in app.revenue_diff(start, None, t.tenant_name)] == [Decimal("17.00")]


def test_past_answers_keep_the_newest_and_compute_each_once() -> None:
    calls: list[int] = []
    past: PastAnswers[int] = PastAnswers(size=2)
    for q in (1, 2, 1, 3, 1, 2):
        assert past.answer(q, lambda q=q: calls.append(q) or q * 10) == q * 10  # type: ignore[misc]
    assert calls == [1, 2, 3, 2]  # 2 was the oldest when 3 came
