"""How the simulator writes dates: VTEX mixes 0, 3, 6 and 7 fractional digits, `Z` and `+00:00`.

Each order has a style byte; the style and the field pick the form, so a value is always written the
same way. A value is truncated to the precision it is written with, and filters compare against that
truncated value, so what a client reads back is exactly what the server filters on.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US

F_CREATION = 0
F_LAST_CHANGE = 1
F_AUTHORIZED = 2
F_INVOICED = 3
F_OTHER = 4

DIGITS = (0, 3, 6, 7)
QUANTUM_US = np.array([SECOND_US, 1000, 1, 1], dtype=np.int64)
_QUANTUM = tuple(int(q) for q in QUANTUM_US)


def to_us(value: datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    return (value.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def parse_us(text: str) -> int:
    """Epoch microseconds of a VTEX date string (extra digits beyond the microsecond are cut)."""
    return to_us(parse_vtex_datetime(text))


def official_us(us: int, style: int, field: int) -> int:
    """The value as written for this order and field (truncated to its precision)."""
    q = _QUANTUM[(style + field) & 3]
    return us - us % q


def official_us_array(us: NDArray[np.int64], style: NDArray[np.uint8], field: int) -> NDArray[np.int64]:
    q = QUANTUM_US[(style.astype(np.int64) + field) & 3]
    return np.asarray(us - us % q, dtype=np.int64)


@functools.lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    """'YYYY-MM-DDT' of an epoch day, as format_vtex_datetime writes it."""
    return format_vtex_datetime(from_us(day * DAY_US), 0)[:11]


def format_us(us: int, style: int, field: int) -> str:
    """Write an instant in this order's form for this field.

    Same text as format_vtex_datetime (tests hold them together) but with the calendar part cached:
    get-order writes several dates per request.
    """
    sel = (style + field) & 3
    digits = DIGITS[sel]
    day, rem = divmod(us, DAY_US)
    seconds, micro = divmod(rem, SECOND_US)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{_day_prefix(day)}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if digits == 3:
        text = f"{text}.{micro // 1000:03d}"
    elif digits == 6:
        text = f"{text}.{micro:06d}"
    elif digits == 7:
        # The seventh digit is below the microsecond; clients cut it, so it only needs to look real.
        text = f"{text}.{micro:06d}{(style * 7 + field * 3 + us // 1000) % 10}"
    return text + ("Z" if ((style >> 2) + field) % 3 == 0 else "+00:00")


def iso_now(us: int) -> str:
    """Control-endpoint form: microseconds and +00:00."""
    return format_vtex_datetime(from_us(us), 6)
