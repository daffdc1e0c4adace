"""As-of exactness, the invariant: random versions land in random batches from two writers whose
transactions commit out of order, one writer's clock running ahead (and sealing the ledger by it);
every answer recorded at a moment equals `revenue --as-of` that moment asked at the end, and the
diff between two recorded moments is what their answers differ by. Builds in
between: each build's answer (revenue_daily, stamped with its instant) equals --as-of that instant."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import push_event
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.land import Lander, ledger
from ordersync.revisions.asof import Revenue
from ordersync.sources.push.events import parse_event
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse
from support.properties import examples
from support.revisions import diff_matches_as_of, new_push_tenant

CLOCK_START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the `clock` fixture's start (tests/conftest.py)
UTC_ZONE = ZoneInfo("UTC")
DAYS = [date(2026, 2, 1) + timedelta(days=i) for i in range(3)]
STATUSES = ["payment-pending", "invoiced", "canceled", "handling"]


class AheadClock:
    """Another process's clock, `ahead` in front of the observer's."""

    def __init__(self, base: ManualClock, ahead: timedelta) -> None:
        self.base, self.ahead = base, ahead

    def now(self) -> datetime:
        return self.base.now() + self.ahead


version = st.tuples(
    st.sampled_from(["o1", "o2", "o3", "o4"]),
    st.integers(0, 48),  # event hour
    st.sampled_from(STATUSES),
    st.integers(1, 500),  # total
    st.sampled_from(DAYS),
)
step = st.one_of(
    st.tuples(st.just("land_a"), st.lists(version, min_size=1, max_size=4)),
    st.tuples(st.just("open_b"), st.lists(version, min_size=1, max_size=4)),
    st.tuples(st.just("commit_b"), st.none()),
    st.tuples(st.just("seal_ahead"), st.none()),
    st.tuples(st.just("observe"), st.none()),
    st.tuples(st.just("tick"), st.integers(1, 120)),
)


def versions(items: list[tuple[str, int, str, int, date]], writer: str) -> list[Any]:
    out = []
    for order_id, hour, status, total, day in items:
        event = push_event(
            order_id,
            event_time=(datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=hour)).isoformat(),
            status=status,
            total_value=str(total),
            creation_date=datetime(day.year, day.month, day.day, 9, tzinfo=UTC).isoformat(),
            writer=writer,  # the two writers never send the same bytes (so neither waits on the other)
        )
        out.append(parse_event(event, UTC_ZONE))
    return out


class Writers:
    """Writer A lands and commits at once; writer B has a clock running ahead and, on PostgreSQL,
    keeps its transaction open across steps (committing after batches landed and sealed later).
    DuckDB has one writing process whose transactions take turns, so there B commits at once."""

    def __init__(self, app: Ordersync, clock: ManualClock, tenant: Tenant, ahead: timedelta) -> None:
        self.app = app
        self.tenant = tenant
        self.concurrent = app.wh.concurrent_writers
        self.ahead_clock = AheadClock(clock, ahead)
        self.clock = clock
        self.wb: Warehouse | None = app.wh.fork() if self.concurrent else None
        self.open: contextlib.ExitStack | None = None

    def _wh(self) -> Warehouse:
        return self.app.wh  # reopened by the facade after a DuckDB build

    def land_a(self, items: list[Any]) -> None:
        wh = self._wh()
        with wh.transaction():
            Lander(wh, self.clock).land(self.tenant.tenant_id, versions(items, "a"), "push", None)

    def open_b(self, items: list[Any]) -> None:
        if self.wb is None:
            wh = self._wh()
            with wh.transaction():
                Lander(wh, self.ahead_clock).land(self.tenant.tenant_id, versions(items, "b"), "push", None)
            return
        if self.open is None:
            self.open = contextlib.ExitStack()
            self.open.enter_context(self.wb.transaction())
        Lander(self.wb, self.ahead_clock).land(self.tenant.tenant_id, versions(items, "b"), "push", None)

    def commit_b(self) -> None:
        if self.open is not None:
            self.open.close()
            self.open = None

    def close(self) -> None:
        self.commit_b()
        if self.wb is not None:
            self.wb.close()


def run_steps(
    app: Ordersync, clock: ManualClock, w: Writers, steps: list[tuple[str, Any]]
) -> list[tuple[datetime, Revenue]]:
    recorded: list[tuple[datetime, Revenue]] = []
    for kind, arg in steps:
        # real clocks move between two events; a seal at the very instant an answer was given
        # would join that answer later (a known limit: committed_at <= T, not < T)
        clock.advance(timedelta(microseconds=1))
        if kind == "land_a":
            w.land_a(arg)
        elif kind == "open_b":
            w.open_b(arg)
        elif kind == "commit_b":
            w.commit_b()
        elif kind == "seal_ahead":
            ledger.seal(app.wh, w.ahead_clock)  # a process whose clock runs ahead numbers the ledger
        elif kind == "tick":
            clock.advance(timedelta(minutes=arg))
        else:
            clock.advance(timedelta(seconds=1))
            at = clock.now()
            recorded.append((at, app.revenue(w.tenant.tenant_name, as_of=at)))
    w.commit_b()
    return recorded


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=4, max_size=14), ahead_hours=st.integers(0, 30))
def test_every_recorded_answer_equals_as_of_its_moment_asked_later(
    app: Ordersync, clock: ManualClock, steps: list[tuple[str, Any]], ahead_hours: int
) -> None:
    clock.advance(timedelta(days=2))  # each example after everything earlier examples sealed
    tenant = new_push_tenant(app, "prop")
    w = Writers(app, clock, tenant, timedelta(hours=ahead_hours))
    try:
        recorded = run_steps(app, clock, w, [*steps, ("observe", None)])
    finally:
        w.close()
    clock.advance(timedelta(minutes=5))
    app.revenue(tenant.tenant_name, as_of=clock.now())  # seal whatever is left, later
    for at, answer in recorded:
        assert app.revenue(tenant.tenant_name, as_of=at) == answer, at
    # a diff between two recorded moments is what their two answers differ by: each one with the
    # next, the first with the last, and the last back to the first
    moments = [at for at, _ in recorded]
    for a, b in [*itertools.pairwise(moments), (moments[0], moments[-1]), (moments[-1], moments[0])]:
        diff_matches_as_of(app, tenant.tenant_name, a, b)


@pytest.mark.dbt
def test_each_builds_answer_is_reproduced_as_of_its_instant(app: Ordersync, clock: ManualClock) -> None:
    clock.advance(timedelta(days=60))
    tenant = new_push_tenant(app, "built")
    w = Writers(app, clock, tenant, timedelta(hours=5))
    answers: list[Revenue] = []
    try:
        w.land_a([("o1", 1, "invoiced", 100, DAYS[0]), ("o2", 1, "payment-pending", 50, DAYS[1])])
        app.build()
        answers.append(app.revenue(tenant.tenant_name))
        w.open_b([("o1", 5, "canceled", 100, DAYS[0])])  # newer, from the writer whose clock runs ahead
        w.commit_b()
        clock.advance(timedelta(minutes=10))
        w.land_a([("o1", 2, "handling", 100, DAYS[0]), ("o3", 3, "invoiced", 70, DAYS[2])])  # o1: stale
        app.build()
        answers.append(app.revenue(tenant.tenant_name))
        clock.advance(timedelta(minutes=10))
        w.open_b([("o2", 9, "invoiced", 55, DAYS[1])])
        app.build()  # b's open batch is not known: this build leaves it out
        answers.append(app.revenue(tenant.tenant_name))
    finally:
        w.close()
    app.build()
    answers.append(app.revenue(tenant.tenant_name))
    assert [a.as_of for a in answers] == sorted(a.as_of for a in answers)  # type: ignore[type-var]
    revenues = [{d.order_date: d.revenue for d in a.days} for a in answers]
    assert revenues[0][DAYS[0]] == 100 and revenues[1][DAYS[0]] == 0  # the cancel counts once known
    if app.wh.concurrent_writers:  # b's second batch was still open at the third build
        assert revenues[2][DAYS[1]] == 50 and revenues[3][DAYS[1]] == 55
    clock.advance(timedelta(minutes=1))
    for answer in answers:
        assert answer.as_of is not None
        assert app.revenue(tenant.tenant_name, as_of=answer.as_of) == answer
