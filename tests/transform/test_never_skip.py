"""Nothing skipped: every committed version reaches fct_orders, whatever the writers' clocks, the
order their transactions commit in, or the lookback (0 to 7 days).

Writers land through Lander on connections of their own (Warehouse.fork()) and the builds go
through Ordersync.build, which seals the landing ledger and gives fct_orders its range. After every
build fct_orders must hold, per order, the newest version (the rule of macros/order_versions.sql)
among everything committed so far.

On PostgreSQL a landing is a real transaction left open: it takes its stamp and its batch id when it
begins and becomes visible when it commits, with other writers' commits and whole builds in
between. DuckDB has one writing process whose landings take turns on a lock, and dbt needs the file
to itself during a build, so a landing there lands when it commits, stamped with the time it began:
the same rows, the same commit order (the stamp is taken before the turn, as Lander does).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.errors import TransformError
from ordersync.facade import Ordersync
from ordersync.land import Lander, ledger
from ordersync.land.records import Version
from ordersync.transform import run_dbt
from ordersync.warehouse import Warehouse
from support.properties import examples
from support.transform import DbtWarehouse

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
EVENT_SLOT = timedelta(hours=12)
#: the writer whose clock may run ahead, and by how much
AHEAD_WRITER, AHEAD = 2, DAY
SOURCES = ("pull", "push", "hook")
#: every example gets tenants of its own
TENANT_IDS = itertools.count(5000)


class SkewedClock:
    """A writer's clock: the shared one, plus this writer's error."""

    def __init__(self, base: ManualClock, skew: timedelta) -> None:
        self.base, self.skew = base, skew

    def now(self) -> datetime:
        return self.base.now() + self.skew


def version(order: str, event_time: datetime, payload_hash: str) -> Version:
    return Version(
        order_id=order,
        event_time=event_time,
        order_date=event_time.date(),
        creation_date=event_time - DAY,
        status=f"status-{payload_hash}",
        total_value=Decimal(len(payload_hash) * 10),
        currency_code="BRL",
        sales_channel="1",
        customer_id=f"c-{order}",
        customer_email=f"{order}@example.com",
        customer_name=f"Customer {payload_hash}",
        payload=f'{{"orderId": "{order}", "hash": "{payload_hash}"}}',
        payload_hash=payload_hash,
    )


@dataclass
class Landing:
    """One writer's landing call: stamped when it begins, visible when it commits."""

    wh: Warehouse
    writer: int
    tenant_id: int
    versions: list[Version]
    stamp: datetime
    txn: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def land(self) -> None:
        Lander(self.wh, ManualClock(self.stamp)).land(self.tenant_id, self.versions, SOURCES[self.writer], None)


class Writers:
    """Begins and commits landings on connections of their own (see the module's docstring)."""

    def __init__(self, app: Ordersync, clock: ManualClock, ahead: bool) -> None:
        self.app, self.clock = app, clock
        self.clocks = [SkewedClock(clock, AHEAD if ahead and w == AHEAD_WRITER else timedelta()) for w in range(3)]
        self.open: list[Landing] = []

    @property
    def concurrent(self) -> bool:
        return self.app.wh.concurrent_writers

    def begin(self, writer: int, tenant_id: int, versions: list[Version]) -> Landing:
        stamp = self.clocks[writer].now()
        if not self.concurrent:
            return Landing(self.app.wh, writer, tenant_id, versions, stamp)  # lands at commit()
        landing = Landing(self.app.wh.fork(), writer, tenant_id, versions, stamp)
        landing.txn.callback(landing.wh.close)
        landing.txn.enter_context(landing.wh.transaction())
        landing.land()
        self.open.append(landing)
        return landing

    def commit(self, landing: Landing) -> None:
        if self.concurrent:
            self.open.remove(landing)
            landing.txn.close()  # commits, then closes the connection
            return
        fork = self.app.wh.fork()
        try:
            landing.wh = fork
            landing.land()
        finally:
            fork.close()

    def abandon(self) -> None:
        """Roll back whatever is still open (a failed test): closing the connection does it."""
        for landing in self.open:
            landing.wh.close()
        self.open.clear()


def make_app(url: str, state_dir: Path, lookback_days: float, clock: ManualClock) -> Ordersync:
    overrides = {"warehouse": {"url": url}, "dbt": {"state_dir": str(state_dir), "lookback_days": lookback_days}}
    return Ordersync(load_settings(overrides=overrides), clock=clock)


def check(app: Ordersync, tenants: list[int], context: str) -> None:
    """fct_orders (for these tenants) is the newest committed version of every order."""
    view = DbtWarehouse(url="", state_dir=Path(), wh=app.wh)
    actual, expected = view.fct(tenants), view.expected_fct(tenants)
    if actual != expected:
        lines = [f"fct_orders diverged {context}"]
        lines += [f"  built    {r[0]} {r[1]} {r[2]} {r[3]} {r[13]!r}" for r in sorted(actual - expected, key=str)]
        lines += [f"  expected {r[0]} {r[1]} {r[2]} {r[3]} {r[13]!r}" for r in sorted(expected - actual, key=str)]
        pytest.fail("\n".join(lines))


# -- the exact scenario the lookback window alone skipped -------------------------------------------


def test_versions_the_lookback_window_alone_skipped_reach_fct_orders(warehouse_url: str, tmp_path: Path) -> None:
    """lookback_days = 0. Writer A stamps first and commits last, after a build; writer C's clock runs
    a day ahead, so the build after it moves the watermark a day on; writer D lands on time after
    that. The window alone never reads A's or D's versions again; the ledger range does. A also
    carries a stale version of an order that must keep its newer one."""
    t = datetime(2024, 6, 1, tzinfo=UTC)
    clock = ManualClock(t + 1 * HOUR)
    state = tmp_path / "dbt"
    tenant = next(TENANT_IDS)
    with make_app(warehouse_url, state, 0.0, clock) as app:
        app.upgrade()
        writers = Writers(app, clock, ahead=True)
        try:
            a = writers.begin(0, tenant, [version("O1", t, "a"), version("O2", t, "a-stale")])
            clock.set(t + 2 * HOUR)
            b = writers.begin(1, tenant, [version("O2", t + HOUR, "b")])
            writers.commit(b)
            c = writers.begin(AHEAD_WRITER, tenant, [version("O3", t, "c")])  # stamped a day ahead
            writers.commit(c)
            app.build(trigger="test")
            check(app, [tenant], "after the first build")
            writers.commit(a)  # stamped 1 h, committed after a build that saw 2 h (and a day ahead)
            clock.set(t + 3 * HOUR)
            d = writers.begin(0, tenant, [version("O4", t, "d")])
            writers.commit(d)
        finally:
            writers.abandon()

        # The lookback window alone (fct_orders without a ledger range, as it was before the ledger):
        # A's and D's versions are older than the newest built minus the lookback, and never read.
        target = app.wh.dbt_target()
        if not app.wh.concurrent_writers:
            app.close()  # DuckDB: dbt gets the file
        run_dbt(target, "build", state_dir=state, lookback_days=0.0)
        current = {(r[1], r[13]) for r in DbtWarehouse(url="", state_dir=state, wh=app.wh).fct([tenant])}
        assert current == {("O2", "b"), ("O3", "c")}, "the window alone skips O1 and O4"

        # The build reads the ledger range besides the window.
        app.build(trigger="test")
        check(app, [tenant], "after the ledger build")
        current = {(r[1], r[13]) for r in DbtWarehouse(url="", state_dir=state, wh=app.wh).fct([tenant])}
        assert current == {("O1", "a"), ("O2", "b"), ("O3", "c"), ("O4", "d")}
        assert ledger.cursor(app.wh, ledger.FCT_ORDERS) == ledger.sealed_max(app.wh) == 4
        ranges = [
            (json.loads(b["flags"])["ledger_from"], json.loads(b["flags"])["ledger_to"])
            for b in reversed(app.recent_builds())
        ]
        assert ranges == [(0, 2), (2, 4)]  # B and C, then A and D


def test_the_ledger_range_reaches_dbt_as_json_vars(tmp_path: Path) -> None:
    with pytest.raises(TransformError, match="lookback_days as run_dbt's own argument"):
        run_dbt({}, state_dir=tmp_path, extra_vars={"lookback_days": 1})
    with pytest.raises(TransformError, match="JSON values"):
        run_dbt({}, state_dir=tmp_path, extra_vars={"ledger_to": object()})


# -- the property --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    writer: int
    tenant_slot: int
    #: (order, event slot) of each version; hashes are unique per landing, so two open landings never
    #: wait on each other for one version
    versions: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Plan:
    lookback_days: int
    ahead: bool
    landings: tuple[Planned, ...]
    #: landing indexes, each twice: the first time it begins, the second it commits
    events: tuple[int, ...]
    #: build after this many events (and after the last one)
    builds: frozenset[int]
    #: hours the shared clock moves after each event
    hours: tuple[int, ...]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Landings begun and committed in any interleaving, the clock often moving past the lookback
    between two events; usually the first landing stalls: it begins first and commits last (a
    writer that stamped its rows, then waited on something before committing)."""
    landings = tuple(
        Planned(
            writer=draw(st.integers(0, 2)),
            tenant_slot=draw(st.integers(0, 1)),
            versions=tuple(draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 5)), min_size=1, max_size=3))),
        )
        for _ in range(draw(st.integers(2, 4)))
    )
    stalled = draw(st.sampled_from([True, True, False]))
    first = 1 if stalled else 0
    events = list(draw(st.permutations([i for i in range(first, len(landings)) for _ in (0, 1)])))
    if stalled:
        events = [0, *events, 0]
    commits = [k for k in range(2, len(events)) if events[k - 1] in events[: k - 1]]
    lookback_days = draw(st.integers(0, 7))
    past_lookback = 24 * lookback_days + 6
    hours = draw(st.lists(st.sampled_from([0, past_lookback]), min_size=len(events), max_size=len(events)))
    if stalled:
        hours[0] = past_lookback  # the stalled landing's stamp falls behind at once
    return Plan(
        lookback_days=lookback_days,
        ahead=draw(st.booleans()),
        landings=landings,
        events=tuple(events),
        # builds after commits (a build after a begin reads nothing new), besides the last one
        builds=frozenset(draw(st.sets(st.sampled_from(commits), min_size=1, max_size=2))),
        hours=tuple(hours),
    )


class Timeline:
    """The shared clock only moves forward across examples: they share one warehouse, and
    fct_orders' watermark is global."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def start(self, plan: Plan) -> datetime:
        start = self.now + 3 * AHEAD
        self.now = start + 3 * DAY + timedelta(hours=sum(plan.hours)) + 2 * AHEAD
        return start


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@settings(
    max_examples=examples(4),
    deadline=None,
    database=None,
    # no shrinking: every step costs dbt builds; the failure message names the plan
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_every_committed_version_reaches_fct_orders(
    warehouse_url: str, tmp_path: Path, timeline: Timeline, plan: Plan
) -> None:
    start = timeline.start(plan)
    clock = ManualClock(start + 3 * DAY)  # after every event_time
    tenants = [next(TENANT_IDS), next(TENANT_IDS)]
    with make_app(warehouse_url, tmp_path / "dbt", float(plan.lookback_days), clock) as app:
        app.upgrade()
        writers = Writers(app, clock, plan.ahead)
        begun: dict[int, Landing] = {}
        try:
            for k, (i, hours) in enumerate(zip(plan.events, plan.hours, strict=True), start=1):
                if i not in begun:
                    p = plan.landings[i]
                    versions = [
                        version(f"O-{order}", start + slot * EVENT_SLOT, f"{i}-{n}")
                        for n, (order, slot) in enumerate(p.versions)
                    ]
                    begun[i] = writers.begin(p.writer, tenants[p.tenant_slot], versions)
                else:
                    writers.commit(begun[i])
                clock.advance(timedelta(hours=hours))
                if k in plan.builds or k == len(plan.events):
                    app.build(trigger="test")
                    check(app, tenants, f"after event {k} of {plan}")
        finally:
            writers.abandon()
        assert ledger.cursor(app.wh, ledger.FCT_ORDERS) == ledger.sealed_max(app.wh)
