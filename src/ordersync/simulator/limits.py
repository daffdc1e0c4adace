"""Per-account rate limiting, fault injection and request counters."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULT_KINDS: tuple[str, ...] = ("500", "502", "503", "504", "slow", "malformed")
_FAULT_WEIGHTS = (0.2, 0.1, 0.2, 0.1, 0.2, 0.2)


class TokenBucket:
    """Real-time token bucket: `per_minute` requests a minute, bursts of up to one second's worth."""

    def __init__(self, per_minute: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self._monotonic = monotonic
        self._last = monotonic()

    def take(self) -> int:
        """0 when the request may go ahead, else the whole seconds to wait (>= 1)."""
        now = self._monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))


class FaultInjector:
    """Decides, from a seeded RNG, which API requests fail and how."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(seed * 7919 + 17)

    def draw(self) -> str | None:
        if self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        return self._rng.choices(FAULT_KINDS, weights=_FAULT_WEIGHTS)[0]

    def slow_seconds(self) -> float:
        return self._rng.uniform(0.2, 1.5)

    def cut_at(self, length: int) -> int:
        """Where to truncate a body so it is no longer valid JSON."""
        return max(1, int(length * self._rng.uniform(0.1, 0.9)))


class RequestStats:
    """Requests served per route and status, and faults injected per kind."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[str] = Counter()
        self.started = time.monotonic()

    def count(self, route: str, status: int) -> None:
        self.requests[(route, status)] += 1

    def snapshot(self) -> dict[str, Any]:
        by_route: dict[str, dict[str, int]] = {}
        for (route, status), n in sorted(self.requests.items()):
            by_route.setdefault(route, {})[str(status)] = n
        return {
            "requests": by_route,
            "total": sum(self.requests.values()),
            "faults": dict(sorted(self.faults.items())),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }
