from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime
from support.properties import examples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the forms VTEX is known to send: no fraction, 'Z', '+00:00', 1 to 7 fractional digits
        ("2024-05-01T14:32:10+00:00", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10Z", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10.1Z", datetime(2024, 5, 1, 14, 32, 10, 100000, tzinfo=UTC)),
        ("2024-05-01T14:32:10.000Z", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10.899958+00:00", datetime(2024, 5, 1, 14, 32, 10, 899958, tzinfo=UTC)),
        ("2024-05-01T14:32:10.7010747+00:00", datetime(2024, 5, 1, 14, 32, 10, 701074, tzinfo=UTC)),
        ("2024-05-01T14:32:10.7010747Z", datetime(2024, 5, 1, 14, 32, 10, 701074, tzinfo=UTC)),
        ("2024-05-01T11:32:10.000-03:00", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        # offsets without the colon, more than 7 digits, a space, no seconds, no offset (UTC)
        ("2024-05-01T11:32:10-0300", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-05-01T14:32:10.123456789+00:00", datetime(2024, 5, 1, 14, 32, 10, 123456, tzinfo=UTC)),
        ("2024-05-01 14:32:10.5+00:00", datetime(2024, 5, 1, 14, 32, 10, 500000, tzinfo=UTC)),
        ("2024-05-01T14:32Z", datetime(2024, 5, 1, 14, 32, tzinfo=UTC)),
        ("2024-05-01T14:32:10", datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC)),
        ("2024-12-31T23:30:00-01:00", datetime(2025, 1, 1, 0, 30, tzinfo=UTC)),
    ],
)
def test_parses_every_vtex_form(text: str, expected: datetime) -> None:
    parsed = parse_vtex_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "2024/05/01",
        "2024-05-01",  # a day is not an instant
        "20240501T143210Z",  # the basic form: never sent, refused rather than guessed
        "2024-05-01T14:32:10.",
        "2024-05-01T14:32:10+25:00",
        "2024-05-01T14:32:10Zjunk",
    ],
)
def test_rejects_non_dates_naming_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 date") as err:
        parse_vtex_datetime(bad)
    assert repr(bad) in str(err.value)


def test_rejects_what_is_not_text() -> None:
    with pytest.raises(ValueError, match="1714574000"):
        parse_vtex_datetime(1714574000)  # type: ignore[arg-type]


@settings(max_examples=examples(100))
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=7),
)
def test_round_trip_keeps_the_precision_it_prints(value: datetime, digits: int) -> None:
    parsed = parse_vtex_datetime(format_vtex_datetime(value, digits))
    keep = min(digits, 6)
    micro = value.microsecond // 10 ** (6 - keep) * 10 ** (6 - keep) if keep else 0
    assert parsed == value.replace(microsecond=micro)


@settings(max_examples=examples(100))
@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["+HH:MM", "+HHMM", "Z"]),
)
def test_any_offset_and_fraction_lands_on_the_same_instant(
    local: datetime, offset_minutes: int, digits: int, style: str
) -> None:
    """A wall-clock time written with any offset and fraction length is that instant in UTC."""
    if style == "Z":
        offset_minutes = 0
    tz = timezone(timedelta(minutes=offset_minutes))
    fraction = f"{local.microsecond:06d}000"[:digits]
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    suffix = {"Z": "Z", "+HH:MM": f"{sign}{hh:02d}:{mm:02d}", "+HHMM": f"{sign}{hh:02d}{mm:02d}"}[style]
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + suffix
    micro = int(fraction[:6].ljust(6, "0")) if digits else 0
    assert parse_vtex_datetime(text) == local.replace(microsecond=micro, tzinfo=tz).astimezone(UTC)
