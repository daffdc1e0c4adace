"""The simulated clock: real time scaled by a speed, plus manual jumps, optionally quiesced."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """Simulated now in epoch microseconds.

    Quiescing freezes the *store* (no new orders, no more lifecycle steps) at that simulated moment
    while the clock itself keeps moving, so index lag still elapses and the list catches up.
    """

    def __init__(self, start_us: int, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._monotonic = monotonic
        self._anchor_sim = start_us
        self._anchor_real = monotonic()
        self._speed = speed
        self.quiesced_at_us: int | None = None

    @property
    def speed(self) -> float:
        return self._speed

    def now_us(self) -> int:
        return self._anchor_sim + int((self._monotonic() - self._anchor_real) * self._speed * 1_000_000)

    def _rebase(self) -> None:
        now = self.now_us()
        self._anchor_real = self._monotonic()
        self._anchor_sim = now

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._rebase()
        self._anchor_sim += int(seconds * 1_000_000)
        return self._anchor_sim

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._rebase()
        self._speed = speed

    def quiesce(self) -> int:
        """Freeze the store at the current simulated moment (idempotent)."""
        if self.quiesced_at_us is None:
            self.quiesced_at_us = self.now_us()
        return self.quiesced_at_us

    def effective_us(self) -> int:
        """The instant order state is evaluated at: now, or the quiesce moment if earlier."""
        now = self.now_us()
        q = self.quiesced_at_us
        return now if q is None or now < q else q

    def indexed_us(self, lag_us: int) -> int:
        """The instant the list index reflects: lag behind now, never past the quiesce moment."""
        at = self.now_us() - lag_us
        q = self.quiesced_at_us
        return at if q is None or at < q else q
