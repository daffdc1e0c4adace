"""Convergence, as a property: whatever the arrival order, duplicates, batch boundaries and
lookback, after every build cdp.fct_orders holds per order the newest version among everything
landed so far (computed here in Python from cdp.orders_landing).

A dbt run costs about a second, so one hypothesis example is a few dozen independent scenarios,
each in its own tenant, stepped together: land step k of every scenario, build, check them all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ordersync.warehouse import LANDING_COLUMNS
from support.properties import examples
from support.transform import DbtWarehouse, landing_row

pytestmark = [pytest.mark.dbt, pytest.mark.slow]  # eight examples of up to five dbt runs

#: event_time = the example's start + slot * 12 h; few slots, so event_times collide often
EVENT_SLOTS = 9
EVENT_SLOT = timedelta(hours=12)
#: the first landing step starts this long after the example's start (after most event_times)
FIRST_LANDING = timedelta(hours=72)
#: mixed case: byte order ('B' < 'a') and natural-language collations ('a' < 'B') disagree
HASH_ALPHABET = "0aAbB"
TENANT, ORDER, HASH = (LANDING_COLUMNS.index(c) for c in ("tenant_id", "order_id", "payload_hash"))
#: every scenario of every example gets a tenant of its own
TENANT_IDS = itertools.count(1000)


@dataclass(frozen=True)
class Version:
    order: int
    event_slot: int
    payload_hash: str
    #: (step, jitter slot) of every delivery; more than one means duplicates
    deliveries: tuple[tuple[int, int], ...]
    #: delivered with a null event_ingested_at (a legacy, on-time row) when that is consistent:
    #: at the first step and with an event_time before it
    on_time: bool


@dataclass(frozen=True)
class Run:
    steps: int
    gap_hours: int
    lookback_days: float
    scenarios: tuple[tuple[Version, ...], ...]


@st.composite
def scenario(draw: st.DrawFn, steps: int) -> tuple[Version, ...]:
    versions: list[Version] = []
    for order in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 4))
        # one payload_hash per version of an order, as a real content hash would be
        hash_text = st.text(HASH_ALPHABET, min_size=1, max_size=3)
        hashes = draw(st.lists(hash_text, min_size=n, max_size=n, unique=True))
        for payload_hash in hashes:
            deliveries = draw(st.lists(st.tuples(st.integers(0, steps - 1), st.integers(0, 2)), min_size=1, max_size=3))
            versions.append(
                Version(
                    order=order,
                    event_slot=draw(st.integers(0, EVENT_SLOTS - 1)),
                    payload_hash=payload_hash,
                    deliveries=tuple(deliveries),
                    on_time=draw(st.booleans()),
                )
            )
    return tuple(versions)


@st.composite
def runs(draw: st.DrawFn) -> Run:
    steps = draw(st.integers(2, 5))
    return Run(
        steps=steps,
        # the gap between landing batches, often longer than the lookback: a newer version then
        # leaves the window before a stale one lands
        gap_hours=draw(st.integers(1, 96)),
        lookback_days=draw(st.sampled_from([0.0, 0.25, 1.0, 3.0]) | st.floats(0.0, 3.0)),
        scenarios=tuple(draw(st.lists(scenario(steps), min_size=20, max_size=40))),
    )


class LandingClock:
    """Landing time only moves forward, across hypothesis examples too: they share one
    warehouse, and fct_orders' watermark is global."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def start_example(self, run: Run) -> datetime:
        start = self.now + timedelta(days=1)
        self.now = start + FIRST_LANDING + run.steps * timedelta(hours=run.gap_hours)
        return start


def batch(run: Run, step: int, start: datetime, tenants: list[int]) -> list[tuple[Any, ...]]:
    """Every delivery of step `step`, across all scenarios."""
    step_clock = start + FIRST_LANDING + step * timedelta(hours=run.gap_hours)
    rows = []
    for tenant, versions in zip(tenants, run.scenarios, strict=True):
        for v in versions:
            event_time = start + v.event_slot * EVENT_SLOT
            for delivered_step, jitter in v.deliveries:
                if delivered_step != step:
                    continue
                # jitter stays within the first 2/3 of the gap: batches never overlap in time
                ingested: datetime | None = step_clock + timedelta(minutes=run.gap_hours * 20 * jitter)
                if v.on_time and step == 0 and event_time <= step_clock:
                    ingested = None
                rows.append(landing_row(tenant, f"O-{v.order}", event_time, ingested, v.payload_hash))
    return rows


@pytest.fixture
def landing_clock() -> LandingClock:
    return LandingClock()


@settings(
    max_examples=examples(8),
    deadline=None,
    database=None,
    # no shrinking: every shrink step costs dbt builds; the failure message isolates the scenario
    phases=[Phase.explicit, Phase.generate],
    # one warehouse for all examples (each scenario has its own tenant); examples are big on purpose
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(run=runs())
def test_fct_orders_converges_after_every_build(dbt_wh: DbtWarehouse, landing_clock: LandingClock, run: Run) -> None:
    start = landing_clock.start_example(run)
    tenants = [next(TENANT_IDS) for _ in run.scenarios]
    landed: set[tuple[int, str, str]] = set()
    for step in range(run.steps):
        rows = batch(run, step, start, tenants)
        dbt_wh.land(rows)
        landed |= {(r[TENANT], r[ORDER], r[HASH]) for r in rows}

        # the property is fct_orders' alone: run its model (and the view it reads), not every model and test
        dbt_wh.build("run", select="+fct_orders", lookback_days=run.lookback_days)

        in_landing = dbt_wh.wh.query(
            "SELECT tenant_id, order_id, payload_hash FROM cdp.orders_landing "
            f"WHERE tenant_id BETWEEN {min(tenants)} AND {max(tenants)}"
        )
        assert sorted(in_landing) == sorted(landed), "each version lands exactly once"
        actual, expected = dbt_wh.fct(tenants), dbt_wh.expected_fct(tenants)
        if actual != expected:
            pytest.fail(explain(run, step, tenants, actual, expected))


def explain(
    run: Run, step: int, tenants: list[int], actual: set[tuple[Any, ...]], expected: set[tuple[Any, ...]]
) -> str:
    """The failing scenarios alone, with what fct_orders holds and what it should: a minimal
    reproduction without shrinking."""
    wrong = sorted({row[0] for row in actual ^ expected})
    lines = [
        f"fct_orders diverged after step {step} of {run.steps} "
        f"(gap {run.gap_hours} h, lookback {run.lookback_days} days) for tenants {wrong}"
    ]
    for tenant in wrong[:3]:
        lines.append(f"tenant {tenant}: {run.scenarios[tenants.index(tenant)]}")
        for label, rows in (("built", actual - expected), ("expected", expected - actual)):
            # order_id, event_time, event_ingested_at, payload_hash
            lines += [f"  {label:8} {r[1]} {r[2]} {r[3]} {r[13]!r}" for r in rows if r[0] == tenant]
    return "\n".join(lines)
