"""ListWindow arithmetic: millisecond rounding outward, splits that share ends and always shrink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.sources.vtex.windows import ListWindow, ceil_ms, floor_ms, from_ms
from support.properties import examples

T = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_rounds_outward_to_whole_milliseconds() -> None:
    w = ListWindow.covering(T + timedelta(microseconds=1_500), T + timedelta(microseconds=2_001))
    assert from_ms(w.start) == T + timedelta(milliseconds=1)
    assert from_ms(w.end) == T + timedelta(milliseconds=3)
    exact = ListWindow.covering(T, T)
    assert exact.start == exact.end == floor_ms(T) == ceil_ms(T)


def test_filter_value_is_vtex_syntax() -> None:
    w = ListWindow.covering(T, T + timedelta(hours=1) - timedelta(microseconds=1))
    assert w.filter_value("invoicedDate") == "invoicedDate:[2024-05-01T12:00:00.000Z TO 2024-05-01T13:00:00.000Z]"


def test_other_time_zones_are_converted() -> None:
    sao_paulo = T.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert ListWindow.covering(sao_paulo, sao_paulo) == ListWindow.covering(T, T)


def test_a_one_millisecond_window_cannot_be_split() -> None:
    w = ListWindow(10, 11)
    assert not w.splittable
    with pytest.raises(ValueError, match="too short"):
        w.split(2)
    assert ListWindow(10, 12).split(5) == [ListWindow(10, 11), ListWindow(11, 12)]


@settings(max_examples=examples(100))
@given(
    start=st.integers(0, 2_000_000_000_000),
    span=st.integers(2, 10**10),
    parts=st.integers(1, 5_000),
)
def test_split_covers_the_window_with_shared_ends_and_every_slice_is_smaller(start: int, span: int, parts: int) -> None:
    w = ListWindow(start, start + span)
    slices = w.split(parts)
    assert 2 <= len(slices) <= max(2, parts)
    assert slices[0].start == w.start and slices[-1].end == w.end
    for a, b in pairwise(slices):
        assert a.end == b.start
    for s in slices:
        assert s.start < s.end
        assert s.end - s.start < span
