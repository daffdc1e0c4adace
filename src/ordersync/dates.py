"""VTEX date handling: every form the API is known to send, and the form it documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def parse_vtex_datetime(value: str) -> datetime:
    """Parse a VTEX timestamp into an aware UTC datetime (microsecond precision, extra digits cut).

    Python's parser takes every form VTEX sends: 'Z' or a numeric offset (with or without the
    colon), no fraction or 1 to 7+ fractional digits, 'T' or a space; a value without an offset
    is UTC. A date without a time is refused, as VTEX never sends one for an instant.
    Raises ValueError naming the value when it is not a date.
    """
    if isinstance(value, str) and len(value) >= 16 and value[10] in "T ":
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(f"not an ISO-8601 date: {value!r}")


def format_vtex_datetime(value: datetime, digits: int = 7) -> str:
    """Format as VTEX does, e.g. 2024-05-01T14:32:10.0000000+00:00 (digits 0-7)."""
    v = value.astimezone(UTC)
    base = v.strftime("%Y-%m-%dT%H:%M:%S")
    if digits > 0:
        frac = f"{v.microsecond:06d}0"[:digits]
        base += "." + frac
    return base + "+00:00"


def format_filter_datetime(value: datetime) -> str:
    """The form used inside list filters: 2022-01-01T02:00:00.000Z."""
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    return value.astimezone(UTC)


def as_day(value: Any) -> date:
    """A day as a driver returns it (a date, a datetime, or ISO text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
