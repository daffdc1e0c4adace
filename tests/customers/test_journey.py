"""Journey stages: the tenant's thresholds, the machine's rules and transitions (new data, late
cancellations, the clock), P(alive) gating, and a stage that depends on history and date alone."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.customers.journey import (
    MIN_INTERVALS,
    NO_PURCHASES,
    JourneyState,
    JourneyThresholds,
    PAliveGate,
    Purchases,
    Stage,
    ThresholdMethod,
    advance,
    compute_thresholds,
    next_change,
    purchase_intervals,
    stage_at,
)
from ordersync.customers.rfm import Change
from support.properties import examples

MONDAY = date(2026, 11, 30)
D0 = date(2025, 1, 1)
TH = JourneyThresholds(
    MONDAY, ThresholdMethod.INTERVALS, 1000, t_active=60, t_lapsed=200, new_window=45, react_window=30
)


def _days(*offsets: int) -> Purchases:
    return Purchases.from_days(D0 + timedelta(days=o) for o in offsets)


def _on(offset: int) -> date:
    return D0 + timedelta(days=offset)


def test_stage_values_are_the_stored_strings() -> None:
    assert [s.value for s in Stage] == ["prospect", "new", "active", "at_risk", "lapsed", "reactivated"]


def test_intervals_are_between_distinct_purchase_days_of_one_customer() -> None:
    customers = ["c", "a", "b", "a", "a", "c", "a"]
    days = [100, 20, 5, 10, 50, 40, 10]  # unsorted; a bought twice on day 10
    intervals, seconds = purchase_intervals(customers, days)
    assert sorted(intervals.tolist()) == [10, 30, 60] and sorted(seconds.tolist()) == [10, 60]
    as_dates = [date(1970, 1, 1) + timedelta(days=d) for d in days]
    again = purchase_intervals(customers, as_dates)
    assert sorted(again[0].tolist()) == [10, 30, 60] and sorted(again[1].tolist()) == [10, 60]
    empty = purchase_intervals(np.array([], dtype=str), np.array([], dtype=np.int64))
    assert empty[0].size == 0 and empty[1].size == 0


def test_small_tenants_get_fixed_thresholds() -> None:
    th = compute_thresholds(MONDAY, [7] * (MIN_INTERVALS - 1), [7] * 50)
    assert th.method is ThresholdMethod.FIXED
    assert (th.t_active, th.t_lapsed, th.new_window, th.react_window) == (90, 365, 90, 30)
    assert th.intervals == MIN_INTERVALS - 1


def test_thresholds_are_the_intervals_p75_and_p95() -> None:
    intervals = np.arange(1, 401)
    th = compute_thresholds(MONDAY, intervals, [45] * 100)
    assert th.method is ThresholdMethod.INTERVALS and th.intervals == 400
    assert th.t_active == math.ceil(np.quantile(intervals, 0.75)) == 301
    assert th.t_lapsed == math.ceil(np.quantile(intervals, 0.95)) == 381
    assert th.new_window == 45
    # the new window is bounded to 30..90; t_lapsed stays above t_active when they coincide
    assert compute_thresholds(MONDAY, intervals, [3] * 10).new_window == 30
    assert compute_thresholds(MONDAY, intervals, [300] * 10).new_window == 90
    flat = compute_thresholds(MONDAY, [7] * 300, [7])
    assert (flat.t_active, flat.t_lapsed) == (7, 8)


def test_thresholds_round_trip_through_json() -> None:
    again = JourneyThresholds.from_json(TH.to_json())
    assert again == TH and again.version == TH.version
    assert compute_thresholds(MONDAY, [1] * 10, []).version != TH.version


@pytest.mark.parametrize(
    ("offsets", "on", "stage"),
    [
        ((), 0, Stage.PROSPECT),
        ((0,), 0, Stage.NEW),
        ((0,), 45, Stage.NEW),
        ((0,), 46, Stage.ACTIVE),  # one purchase, out of the new window, still within t_active
        ((0,), 60, Stage.ACTIVE),
        ((0,), 61, Stage.AT_RISK),
        ((0,), 200, Stage.AT_RISK),
        ((0,), 201, Stage.LAPSED),
        ((0, 10), 10, Stage.ACTIVE),  # a quick second purchase is no reactivation
        ((0, 10), 71, Stage.AT_RISK),
        ((0, 100), 100, Stage.REACTIVATED),  # the day before, 99 days since: at_risk
        ((0, 100), 130, Stage.REACTIVATED),
        ((0, 100), 131, Stage.ACTIVE),
        ((0, 100), 161, Stage.AT_RISK),
        ((0, 61), 61, Stage.ACTIVE),  # the day before, 60 days since: still active
        ((0, 62), 62, Stage.REACTIVATED),
        ((0, 300, 310), 310, Stage.ACTIVE),  # only the purchase that ended the lapse reactivates
        ((0, 0), 40, Stage.NEW),  # two orders on one day are one purchase day
    ],
)
def test_the_rules(offsets: tuple[int, ...], on: int, stage: Stage) -> None:
    assert stage_at(_days(*offsets), _on(on), TH) is stage


def test_a_return_while_still_new_is_no_reactivation() -> None:
    long_new = JourneyThresholds(
        MONDAY, ThresholdMethod.FIXED, 0, t_active=60, t_lapsed=365, new_window=90, react_window=30
    )
    assert stage_at(_days(0, 80), _on(80), long_new) is Stage.ACTIVE
    assert stage_at(_days(0, 95), _on(95), long_new) is Stage.REACTIVATED


def test_late_cancellations_move_back() -> None:
    first = advance(None, _days(0), _on(5), TH)
    assert first.changed and first.state == JourneyState(Stage.NEW, None, _on(5))
    # its only order is cancelled: new -> prospect
    gone = advance(first.state, NO_PURCHASES, _on(6), TH)
    assert gone.changed and gone.state == JourneyState(Stage.PROSPECT, Stage.NEW, _on(6))
    # the order that reactivated a lapsed customer is cancelled: reactivated -> lapsed
    back = advance(None, _days(0, 300), _on(310), TH)
    assert back.state.current is Stage.REACTIVATED
    lapsed = advance(back.state, _days(0), _on(311), TH)
    assert lapsed.changed and lapsed.state == JourneyState(Stage.LAPSED, Stage.REACTIVATED, _on(311))


def test_a_daily_sweep_finds_the_clock_driven_moves() -> None:
    purchases = _days(0, 20)
    state = advance(None, purchases, _on(20), TH).state
    seen = []
    for offset in range(21, 400):
        step = advance(state, purchases, _on(offset), TH)
        if step.changed:
            seen.append((offset, step.state.previous, step.state.current))
        state = step.state
    assert seen == [(81, Stage.ACTIVE, Stage.AT_RISK), (221, Stage.AT_RISK, Stage.LAPSED)]
    assert state == JourneyState(Stage.LAPSED, Stage.AT_RISK, _on(221))
    assert next_change(purchases, _on(20), TH) == _on(81)
    assert next_change(purchases, _on(81), TH) == _on(221)
    assert next_change(purchases, _on(221), TH) is None
    assert next_change(NO_PURCHASES, _on(221), TH) is None


def test_p_alive_gating_is_off_by_default_and_never_for_one_time_buyers() -> None:
    gate = PAliveGate()
    repeat = _days(0, 10)
    assert stage_at(repeat, _on(20), TH, p_alive=0.01) is Stage.ACTIVE  # no gate given
    assert stage_at(repeat, _on(20), TH, p_alive=0.4, gate=gate) is Stage.AT_RISK
    assert stage_at(repeat, _on(20), TH, p_alive=0.1, gate=gate) is Stage.LAPSED
    assert stage_at(repeat, _on(20), TH, p_alive=0.9, gate=gate) is Stage.ACTIVE
    # gating only worsens: a lapsed repeat buyer with P(alive) 1 stays lapsed
    assert stage_at(repeat, _on(300), TH, p_alive=1.0, gate=gate) is Stage.LAPSED
    assert stage_at(repeat, _on(300), TH, p_alive=0.4, gate=gate) is Stage.LAPSED
    assert stage_at(repeat, _on(100), TH, p_alive=0.1, gate=gate) is Stage.LAPSED
    # one-time buyers (P(alive) = 1 by construction) and returning customers are never gated
    assert stage_at(_days(0), _on(50), TH, p_alive=0.0, gate=gate) is Stage.ACTIVE
    assert stage_at(_days(0), _on(5), TH, p_alive=0.0, gate=gate) is Stage.NEW
    assert stage_at(_days(0, 100), _on(100), TH, p_alive=0.0, gate=gate) is Stage.REACTIVATED


_thresholds = st.builds(
    lambda active, extra, new, react: JourneyThresholds(
        MONDAY,
        ThresholdMethod.INTERVALS,
        500,
        t_active=active,
        t_lapsed=active + extra,
        new_window=new,
        react_window=react,
    ),
    st.integers(1, 120),
    st.integers(1, 300),
    st.integers(30, 90),
    st.integers(1, 60),
)


@settings(max_examples=examples(60))
@given(
    st.sets(st.integers(0, 400), max_size=6),
    _thresholds,
    st.integers(0, 400),
    st.sampled_from([None, *Stage]),
)
def test_the_stage_depends_on_history_and_date_not_on_the_stored_state(
    offsets: set[int], th: JourneyThresholds, start: int, stored: Stage | None
) -> None:
    # a whole-history recompute, whatever state was stored before (or none), gives the same stage,
    # and running it again on its own result changes nothing
    purchases = _days(*(o for o in offsets if o <= start))
    on = _on(start)
    previous = None if stored is None else JourneyState(stored, None, D0)
    step = advance(previous, purchases, on, th)
    assert step.state.current is stage_at(purchases, on, th)
    assert step.changed == (stored is not step.state.current)
    assert advance(step.state, purchases, on, th) == Change(step.state, changed=False)


@settings(max_examples=examples(40))
@given(st.sets(st.integers(0, 300), min_size=1, max_size=5), _thresholds)
def test_the_sweep_changes_exactly_on_the_days_next_change_names(offsets: set[int], th: JourneyThresholds) -> None:
    purchases = _days(*offsets)
    day = _on(max(offsets))
    state = advance(None, purchases, day, th).state
    changes, predicted = [], []
    due = next_change(purchases, day, th)
    for _ in range(520):
        day += timedelta(days=1)
        step = advance(state, purchases, day, th)
        if step.changed:
            changes.append(day)
        if due == day:
            predicted.append(day)
            due = next_change(purchases, day, th)
        state = step.state
    assert changes == predicted
    # with no new data the clock ends every history lapsed
    assert state.current is Stage.LAPSED and next_change(purchases, day, th) is None
