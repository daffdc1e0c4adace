"""RFM scores and segments: the grid, the bins, quintiles against the small-tenant rules, ties, and
the invariants every tenant's scores keep (1..5, monotone in R and M)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.customers.rfm import (
    F_EDGES,
    MIN_CUSTOMERS_FOR_QUANTILES,
    R_FIXED_EDGES,
    SEGMENT_GRID,
    SEGMENT_ROWS,
    BreakpointMethod,
    Breakpoints,
    Change,
    Segment,
    Tracked,
    compute_breakpoints,
    period_start,
    recency_days,
    score,
    score_one,
    segment,
    track,
    window_start,
)
from support.properties import examples

MONDAY = date(2026, 11, 30)


def _small(monetary: list[float]) -> Breakpoints:
    return compute_breakpoints(MONDAY, [10] * len(monetary), monetary, currency="BRL")


def _percent_rank_score(values: list[float], x: float) -> int:
    """The definition, in exact arithmetic: 1 + floor(5 * below / (n - 1)), capped at 5."""
    below = sum(1 for v in values if v < x)
    return min(5, 1 + int(Fraction(5 * below, max(len(values) - 1, 1))))


def test_every_cell_of_the_grid_is_exactly_one_segment() -> None:
    assert len(SEGMENT_ROWS) == 5 and all(len(row) == 5 for row in SEGMENT_ROWS)
    cells = [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert sorted(SEGMENT_GRID) == cells
    assert all(isinstance(SEGMENT_GRID[c], Segment) for c in cells)
    # all eleven names are reachable, and lost is the single cell split out of hibernating
    assert set(SEGMENT_GRID.values()) == set(Segment) and len(Segment) == 11
    assert [c for c in cells if SEGMENT_GRID[c] is Segment.LOST] == [(1, 1)]
    assert {c for c in cells if SEGMENT_GRID[c] is Segment.HIBERNATING} == {(1, 2), (2, 1), (2, 2)}


def test_the_grid_reads_as_the_reference_rules() -> None:
    expect = {
        Segment.CHAMPIONS: {(5, 4), (5, 5)},
        Segment.LOYAL_CUSTOMERS: {(r, f) for r in (3, 4) for f in (4, 5)},
        Segment.POTENTIAL_LOYALISTS: {(r, f) for r in (4, 5) for f in (2, 3)},
        Segment.NEW_CUSTOMERS: {(5, 1)},
        Segment.PROMISING: {(4, 1)},
        Segment.NEED_ATTENTION: {(3, 3)},
        Segment.ABOUT_TO_SLEEP: {(3, 1), (3, 2)},
        Segment.AT_RISK: {(r, f) for r in (1, 2) for f in (3, 4)},
        Segment.CANT_LOSE_THEM: {(1, 5), (2, 5)},
    }
    for seg, cells in expect.items():
        assert {c for c, s in SEGMENT_GRID.items() if s is seg} == cells, seg
    assert segment(5, 5) is Segment.CHAMPIONS
    with pytest.raises(KeyError):
        segment(0, 3)


def test_segment_values_are_the_stored_strings() -> None:
    assert [s.value for s in Segment] == [
        "champions", "loyal_customers", "potential_loyalists", "new_customers", "promising", "need_attention",
        "about_to_sleep", "at_risk", "cant_lose_them", "hibernating", "lost",
    ]  # fmt: skip


def test_frequency_uses_fixed_bins_and_equal_counts_share_a_score() -> None:
    bp = _small([1.0, 2.0])
    got = score(bp, [5] * 9, [0, 1, 2, 3, 4, 5, 6, 7, 40], [1.0] * 9)
    assert got.f.tolist() == [1, 1, 2, 3, 4, 4, 5, 5, 5]
    assert bp.f_edges == F_EDGES


def test_small_tenant_recency_uses_fixed_days_edge_days_score_the_more_recent() -> None:
    bp = _small([1.0] * (MIN_CUSTOMERS_FOR_QUANTILES - 1))
    assert bp.method is BreakpointMethod.SMALL_TENANT and bp.r_edges == R_FIXED_EDGES
    days = [0, 30, 31, 90, 91, 180, 181, 365, 366, 5000]
    assert score(bp, days, [1] * 10, [1.0] * 10).r.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_small_tenant_monetary_is_a_tie_aware_percent_rank() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    got = score(_small(values), [1] * 6, [1] * 6, values).m.tolist()
    assert got == [1, 2, 3, 4, 5, 5]  # ranks 0, .2, .4, .6, .8, 1
    tied = [10.0, 10.0, 10.0, 20.0]
    assert score(_small(tied), [1] * 4, [1] * 4, tied).m.tolist() == [1, 1, 1, 5]
    # a single customer ranks 0; nothing to rank against, anything above it is the top
    assert score(_small([7.0]), [1] * 3, [1] * 3, [7.0, 3.0, 8.0]).m.tolist() == [1, 1, 5]


@settings(max_examples=examples(150))
@given(
    st.lists(st.integers(0, 30).map(float), min_size=1, max_size=60),
    st.lists(st.integers(-1, 31).map(float), min_size=1, max_size=10),
)
def test_percent_rank_edges_match_the_definition_for_any_value(population: list[float], probes: list[float]) -> None:
    # values of the frozen population and values outside it alike
    bp = _small(population)
    got = score(bp, [1] * len(probes), [1] * len(probes), probes).m.tolist()
    assert got == [_percent_rank_score(population, x) for x in probes]
    own = score(bp, [1] * len(population), [1] * len(population), population).m.tolist()
    assert own == [_percent_rank_score(population, x) for x in population]


def test_quintiles_from_the_size_threshold_on() -> None:
    n = MIN_CUSTOMERS_FOR_QUANTILES
    recency = np.arange(n, dtype=float)  # 0..499 days
    monetary = np.arange(1, n + 1, dtype=float) * 10
    bp = compute_breakpoints(MONDAY, recency, monetary, currency="BRL")
    assert bp.method is BreakpointMethod.QUANTILE and bp.customers == n
    assert bp.r_edges == pytest.approx(np.quantile(recency, [0.2, 0.4, 0.6, 0.8]).tolist())
    got = score(bp, recency, np.ones(n), monetary)
    # distinct values: a fifth of the customers per score, recent ones high on R
    assert np.bincount(got.m, minlength=6)[1:].tolist() == [100] * 5
    assert np.bincount(got.r, minlength=6)[1:].tolist() == [100] * 5
    assert got.r[0] == 5 and got.r[-1] == 1 and got.m[0] == 1 and got.m[-1] == 5
    # 499 customers: the small-tenant rules, whose R edges are days and not quintiles
    assert compute_breakpoints(MONDAY, recency[1:], monetary[1:], currency="BRL").r_edges == R_FIXED_EDGES


def test_quintile_ties_share_a_score_and_an_edge_value_scores_the_lower_bin() -> None:
    # 60% of customers spent exactly 50: p20 = p40 = 50, so all of them score 1 and no one scores 2 or 3
    monetary = [50.0] * 300 + [float(v) for v in range(100, 300)]
    bp = compute_breakpoints(MONDAY, [1] * 500, monetary, currency="BRL")
    assert bp.m_edges[0] == bp.m_edges[1] == 50.0
    got = score(bp, [1] * 500, [1] * 500, monetary).m
    assert set(got[:300].tolist()) == {1}
    assert set(got.tolist()) <= {1, 4, 5}
    edge = bp.m_edges[3]
    assert score_one(bp, 1, 1, edge).m == 4 and score_one(bp, 1, 1, np.nextafter(edge, np.inf)).m == 5


_values = st.integers(0, 2000).map(float)


@settings(max_examples=examples(150))
@given(
    st.lists(st.tuples(_values, _values), min_size=1, max_size=80),
    st.lists(st.tuples(_values, st.integers(0, 12), _values), min_size=2, max_size=40),
    st.booleans(),
)
def test_scores_stay_in_1_to_5_and_are_monotone(
    population: list[tuple[float, float]], customers: list[tuple[float, int, float]], quantiles: bool
) -> None:
    # either method, whatever the population's size: the threshold is a parameter
    bp = compute_breakpoints(
        MONDAY, [r for r, _ in population], [m for _, m in population], currency="BRL",
        min_customers=1 if quantiles else 10**9,
    )  # fmt: skip
    assert bp.method is (BreakpointMethod.QUANTILE if quantiles else BreakpointMethod.SMALL_TENANT)
    r, f, m = (np.array(col, dtype=float) for col in zip(*customers, strict=True))
    got = score(bp, r, f, m)
    for arr in (got.r, got.f, got.m):
        assert arr.min() >= 1 and arr.max() <= 5
    by_r, by_f, by_m = np.argsort(r, kind="stable"), np.argsort(f, kind="stable"), np.argsort(m, kind="stable")
    # more recent (fewer days) never scores lower R; more purchases never lower F; more revenue never lower M
    assert np.all(np.diff(got.r[by_r].astype(int)) <= 0)
    assert np.all(np.diff(got.f[by_f].astype(int)) >= 0)
    assert np.all(np.diff(got.m[by_m].astype(int)) >= 0)
    # one customer alone scores as it does among others, and its segment is the grid's
    i = len(customers) // 2
    one = score_one(bp, r[i], f[i], m[i])
    assert (one.r, one.f, one.m) == (got.r[i], got.f[i], got.m[i])
    assert got.segments()[i] is one.segment is SEGMENT_GRID[(one.r, one.f)]


def test_breakpoints_round_trip_through_json_and_version_their_content() -> None:
    bp = compute_breakpoints(MONDAY, np.arange(600) % 97, np.linspace(0.5, 999.25, 600), currency="BRL")
    text = bp.to_json()
    again = Breakpoints.from_json(text)
    assert again == bp and again.version == bp.version and len(bp.version) == 16
    assert json.loads(text)["method"] == "quantile"
    moved = Breakpoints.from_json(text.replace('"currency": "BRL"', '"currency": "ARS"'))
    assert moved.currency == "ARS" and moved.version != bp.version
    raw = json.loads(text)
    raw["format"] = 99
    with pytest.raises(ValueError, match="format"):
        Breakpoints.from_json(json.dumps(raw))


def test_periods_start_on_mondays_and_the_window_includes_the_scoring_date() -> None:
    week = [MONDAY + timedelta(days=i) for i in range(7)]
    assert {period_start(d) for d in week} == {MONDAY}
    assert period_start(MONDAY + timedelta(days=7)) == MONDAY + timedelta(days=7)
    assert period_start(MONDAY - timedelta(days=1)) == MONDAY - timedelta(days=7)
    assert MONDAY.weekday() == 0
    assert window_start(date(2026, 12, 6), 730) == date(2026, 12, 6) - timedelta(days=729)
    assert window_start(date(2026, 12, 6), 1) == date(2026, 12, 6)


def test_thirty_thousand_customers_score_in_one_vectorised_pass() -> None:
    rng = np.random.default_rng(7)
    n = 30_000
    recency, freq = rng.integers(0, 900, n), rng.integers(0, 15, n)
    monetary = rng.gamma(2.0, 80.0, n)
    bp = compute_breakpoints(MONDAY, recency, monetary, currency="BRL")
    got = score(bp, recency, freq, monetary)
    segs = got.segments()
    assert len(segs) == n and got.r.dtype == np.int8
    assert np.bincount(got.m, minlength=6)[1:].tolist() == [n // 5] * 5
    assert {s for s in segs} == set(Segment)


def test_recency_is_whole_days_to_the_scoring_date() -> None:
    on = date(2026, 12, 6)
    last = [on, on - timedelta(days=1), date(2024, 12, 6)]
    assert recency_days(on, last).tolist() == [0, 1, 730]
    numbers = [(d - date(1970, 1, 1)).days for d in last]
    assert recency_days(on, numbers).tolist() == [0, 1, 730]


def test_a_segment_change_is_tracked_once() -> None:
    day1, day2, day3 = MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    first = track(None, Segment.NEW_CUSTOMERS, day1)
    assert first == Change(Tracked(Segment.NEW_CUSTOMERS, None, day1), changed=True)
    same = track(first.state, Segment.NEW_CUSTOMERS, day2)
    assert same == Change(first.state, changed=False)  # the date it changed is kept
    moved = track(same.state, Segment.PROMISING, day3)
    assert moved == Change(Tracked(Segment.PROMISING, Segment.NEW_CUSTOMERS, day3), changed=True)
    assert track(moved.state, Segment.PROMISING, day3).changed is False  # a retry writes nothing again
