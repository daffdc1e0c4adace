from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T14:32:10+00:00", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10Z", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10.1Z", datetime(2024, 5, 1, 14, 32, 10, 100000, tzinfo=UTC)),
        ("2024-05-01T14:32:10.899958+00:00", datetime(2024, 5, 1, 14, 32, 10, 899958, tzinfo=UTC)),
        ("2024-05-01T14:32:10.7010747+00:00", datetime(2024, 5, 1, 14, 32, 10, 701074, tzinfo=UTC)),
        ("2024-05-01T11:32:10.000-03:00", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
    ],
)
def test_parses_every_vtex_form(text: str, expected: datetime) -> None:
    assert parse_vtex_datetime(text) == expected


@pytest.mark.parametrize("bad", ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "2024/05/01"])
def test_rejects_non_dates(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_vtex_datetime(bad)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=7),
)
def test_round_trip_keeps_the_precision_it_prints(value: datetime, digits: int) -> None:
    parsed = parse_vtex_datetime(format_vtex_datetime(value, digits))
    keep = min(digits, 6)
    micro = value.microsecond // 10 ** (6 - keep) * 10 ** (6 - keep) if keep else 0
    assert parsed == value.replace(microsecond=micro)
