"""Time windows for the list endpoint, in whole milliseconds, the precision of its date filters.

VTEX stores dates finer than a millisecond, so a window's start is rounded down and its end up:
rounding the end down would drop an order created at 23:59:59.9995 from [.., 23:59:59.999999].
Sub-windows share their boundaries (both ends are inclusive), for the same reason: with
[a, m] and [m + 1 ms, b], an order at m + 0.5 ms falls in neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from ordersync.dates import format_filter_datetime, to_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def floor_ms(value: datetime) -> int:
    return (to_utc(value) - EPOCH) // _MS


def ceil_ms(value: datetime) -> int:
    return -((EPOCH - to_utc(value)) // _MS)


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


@dataclass(frozen=True, slots=True)
class ListWindow:
    """A list filter's window: [start, end] in epoch milliseconds, both ends inclusive (not
    sync.windows.Window, the span a run reads)."""

    start: int
    end: int

    @classmethod
    def covering(cls, start: datetime, end: datetime) -> ListWindow:
        window = cls(floor_ms(start), ceil_ms(end))
        if window.start > window.end:
            raise ValueError(f"window starts after it ends: {start.isoformat()} > {end.isoformat()}")
        return window

    def filter_value(self, field: str) -> str:
        """f_<field>'s value: creationDate:[2022-01-01T02:00:00.000Z TO 2022-01-02T01:59:59.999Z]."""
        start, end = format_filter_datetime(from_ms(self.start)), format_filter_datetime(from_ms(self.end))
        return f"{field}:[{start} TO {end}]"

    @property
    def splittable(self) -> bool:
        # With shared boundaries, a window one millisecond wide has no smaller parts.
        return self.end - self.start >= 2

    def split(self, parts: int) -> list[ListWindow]:
        """Up to `parts` equal slices, each strictly smaller than this window, neighbours sharing an end."""
        if not self.splittable:
            raise ValueError(f"window {self} is too short to split")
        span = self.end - self.start
        parts = max(2, min(parts, span))
        bounds = [self.start + span * i // parts for i in range(parts + 1)]
        return [ListWindow(a, b) for a, b in pairwise(bounds)]

    def __str__(self) -> str:
        return f"[{from_ms(self.start).isoformat()} TO {from_ms(self.end).isoformat()}]"
