"""Items a push token may send: its own budget (`tokens create --max-items-per-minute`) or `[serve]
max_items_per_minute`, a token bucket per token in memory.

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
    per_minute: int
    level: float
    at: float
    #: the batch last refused: the token's requests are refused unread until it would fit
    wanted: float = 0.0


class Budget:
    def __init__(self, per_minute: int, now: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._now = now
        self._buckets: dict[str, _Bucket] = {}
        self._guard = threading.Lock()
        self._swept = now()

    def limit(self, own: int | None) -> int:
        """A token's budget: its own, else the server's."""
        return self.per_minute if own is None else own

    def limit_of(self, key: str) -> int:
        """The budget `key`'s bucket keeps (the server's when it has none)."""
        with self._guard:
            bucket = self._buckets.get(key)
            return self.per_minute if bucket is None else bucket.per_minute

    def take(self, key: str, items: int, per_minute: int | None = None) -> float | None:
        """None when `items` fit (and are taken from `key`'s bucket), else the seconds to wait.
        `per_minute` is the token's own budget (None: the server's)."""
        limit = self.limit(per_minute)
        with self._guard:
            bucket = self._refilled(key, limit)
            if items <= bucket.level:
                bucket.level -= items
                bucket.wanted = 0.0
                return None
            bucket.wanted = min(float(items), float(limit))
            if items > limit:
                return 60.0  # never fits: the answer says to send smaller batches
            return (items - bucket.level) / (limit / 60.0)

    def waiting(self, key: str) -> float | None:
        """The seconds until the batch `key` was last refused would fit, None when nothing waits:
        a token past its budget is refused before its body is read, so a flood costs the server
        next to nothing."""
        with self._guard:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            bucket = self._refilled(key, bucket.per_minute)
            if bucket.level >= bucket.wanted:
                return None
            return (bucket.wanted - bucket.level) / (bucket.per_minute / 60.0)

    def _refilled(self, key: str, per_minute: int) -> _Bucket:
        """`key`'s bucket refilled to now; a budget changed since (tokens set-budget) applies at once."""
        now = self._now()
        self._sweep(now)
        bucket = self._buckets.setdefault(key, _Bucket(per_minute, float(per_minute), now))
        if bucket.per_minute != per_minute:
            bucket.level = bucket.level * per_minute / bucket.per_minute
            bucket.per_minute = per_minute
        bucket.level = min(float(per_minute), bucket.level + (now - bucket.at) * per_minute / 60.0)
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
