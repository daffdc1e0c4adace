"""VTEX date handling: every form the API is known to send, and the form it documents."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# 0-7 fractional digits, 'Z' or a numeric offset, optional seconds; VTEX mixes them in one response.
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_vtex_datetime(value: str) -> datetime:
    """Parse a VTEX timestamp into an aware UTC datetime (microsecond precision, extra digits cut).

    Raises ValueError naming the value when it is not a date.
    """
    if isinstance(value, str) and len(value) >= 19 and value[10] in "T ":
        # fast path: Python's parser takes every VTEX form (it cuts a 7th fractional digit)
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    m = _ISO.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"not an ISO-8601 date: {value!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    if tz is None or tz == "Z":
        return dt.replace(tzinfo=UTC)
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    offset_min = sign * (int(digits[:2]) * 60 + int(digits[2:]))
    from datetime import timedelta, timezone

    return dt.replace(tzinfo=timezone(timedelta(minutes=offset_min))).astimezone(UTC)


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
