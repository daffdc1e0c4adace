"""The API writes its answers with `json_bytes` in one pass; what it writes is what `plain` makes of
the same value, written by orjson (the labelled oracle): decimals as text, moments and days in ISO
8601, keys as text, tuples as arrays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordersync.reads import json_bytes, plain

zones = st.sampled_from([None, UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5, minutes=30))])
moments = st.builds(
    lambda at, tz: at.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    zones,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**15), max_value=10**15)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | moments
    | st.dates()
)
#: a dict's keys are of one kind (text, whole numbers or days), as the answers' dicts are: 1 and "1"
#: in one dict would be one key to plain() and two to orjson
keys = [st.text(max_size=6), st.integers(-1000, 1000), st.dates()]
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.one_of(*(st.dictionaries(k, inner, max_size=4) for k in keys))
    ),
    max_leaves=20,
)


@given(values)
def test_json_bytes_writes_what_plain_makes_of_a_value(value: Any) -> None:
    assert json_bytes(value) == orjson.dumps(plain(value))


def test_an_exact_amount_keeps_its_cents_and_a_moment_its_offset() -> None:
    body = {"revenue": Decimal("12.50"), "at": datetime(2026, 12, 6, 20, 30, tzinfo=UTC), "day": date(2026, 12, 6)}
    assert orjson.loads(json_bytes(body)) == {
        "revenue": "12.50",
        "at": "2026-12-06T20:30:00+00:00",
        "day": "2026-12-06",
    }


def test_a_value_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError):
        json_bytes({"x": object()})
