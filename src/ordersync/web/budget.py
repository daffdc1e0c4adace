"""Items a push token may send: `[serve] max_items_per_minute`, a token bucket per token in memory.

The bucket holds a minute's allowance and refills continuously, so a token may send its minute's
worth at once and then keeps to the rate. A batch either fits whole (its items are taken) or is
refused whole with the seconds until it would fit: a push lands all of its batch or nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Buckets untouched this long are full again and forgotten (a revoked token's, a one-off's).
_FORGET_AFTER_SECONDS = 120.0


@dataclass
class _Bucket:
    level: float
    at: float
    #: the batch last refused: the token's requests are refused unread until it would fit
    wanted: float = 0.0


class Budget:
    def __init__(self, per_minute: int, now: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._now = now
        self._buckets: dict[str, _Bucket] = {}
        self._guard = threading.Lock()
        self._swept = now()

    def take(self, key: str, items: int) -> float | None:
        """None when `items` fit (and are taken from `key`'s bucket), else the seconds to wait."""
        with self._guard:
            bucket = self._refilled(key)
            if items <= bucket.level:
                bucket.level -= items
                bucket.wanted = 0.0
                return None
            bucket.wanted = min(float(items), float(self.per_minute))
            if items > self.per_minute:
                return 60.0  # never fits: the answer says to send smaller batches
            return (items - bucket.level) / self._rate

    def waiting(self, key: str) -> float | None:
        """The seconds until the batch `key` was last refused would fit, None when nothing waits:
        a token past its budget is refused before its body is read, so a flood costs the server
        next to nothing."""
        with self._guard:
            bucket = self._refilled(key)
            if bucket.level >= bucket.wanted:
                return None
            return (bucket.wanted - bucket.level) / self._rate

    def _refilled(self, key: str) -> _Bucket:
        now = self._now()
        self._sweep(now)
        bucket = self._buckets.setdefault(key, _Bucket(float(self.per_minute), now))
        bucket.level = min(float(self.per_minute), bucket.level + (now - bucket.at) * self._rate)
        bucket.at = now
        return bucket

    def _sweep(self, now: float) -> None:
        if now - self._swept < _FORGET_AFTER_SECONDS:
            return
        self._swept = now
        stale = [k for k, b in self._buckets.items() if now - b.at > _FORGET_AFTER_SECONDS]
        for k in stale:
            del self._buckets[k]


def retry_after(seconds: float) -> str:
    """The Retry-After header's whole seconds, never 0 (a client would retry at once)."""
    return str(max(1, math.ceil(seconds)))
