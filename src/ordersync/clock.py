"""ordersync's notion of now, injectable so tests can drive weeks of time in seconds."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ordersync.dates import parse_vtex_datetime


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class RemoteClock:
    """Follows another process's clock (a simulator's GET /_simulator/clock), so several processes
    can be driven through simulated time together."""

    def __init__(self, url: str) -> None:
        self.url = url

    def now(self) -> datetime:
        with urllib.request.urlopen(self.url, timeout=10) as resp:
            return parse_vtex_datetime(json.loads(resp.read())["now"])


def clock_from_setting(value: str | None) -> Clock:
    """`system` (default), a fixed ISO-8601 instant, or the http:// URL of a clock to follow."""
    if not value or value == "system":
        return SystemClock()
    if value.startswith(("http://", "https://")):
        return RemoteClock(value)
    try:
        return ManualClock(parse_vtex_datetime(value))
    except ValueError:
        raise ValueError(
            f"clock setting {value!r} is not 'system', an ISO-8601 instant or an http:// clock URL"
        ) from None
