"""A request budget per store account, shared by every client of that account in the process.

VTEX limits requests per account, and an account over its limit can take its store's Admin down, so
the client paces itself rather than relying on 429s. The budget is a smooth rate with a small burst
(GCRA: each request reserves the next slot on a shared timeline), so a client keeps the budget full
without ever sending more than `burst_seconds` worth of requests at once. It adapts like TCP: a 429
cuts the shared rate multiplicatively and holds every client of the account for the server's
Retry-After; each request answered without a 429 wins back a little of the rate, never above the budget.

State sits behind a threading.Lock and time is read from a monotonic clock, so clients on different
event loops (one per tenant at times) share one account's budget. The pacer never sleeps itself: it
computes the wait and the caller sleeps with its own (injectable) sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from yarl import URL

logger = logging.getLogger("ordersync.sources.http")

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Slot:
    """When one request may be sent: `start` on the pacer's clock, `wait` seconds after the reservation,
    of which `held` fall while the account is on hold after a 429 (the rest is pacing)."""

    start: float
    wait: float
    held: float


class Pacer:
    """One account's budget of `requests_per_minute`, shared by every client that holds this object."""

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst_seconds: float = 0.1,
        decrease: float = 0.7,
        floor_per_minute: float = 180.0,
        recovery: float = 0.001,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """`burst_seconds`: how much of the rate may go at once after an idle spell; `decrease`: the
        factor a 429 applies to the rate; `floor_per_minute`: the rate is never cut below this (or the
        budget, when smaller); `recovery`: the share of the budget won back per request answered
        without a 429."""
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be between 0 and 1, not {decrease}")
        if burst_seconds < 0 or floor_per_minute <= 0 or recovery <= 0:
            raise ValueError("burst_seconds must be >= 0; floor_per_minute and recovery must be > 0")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._tau = burst_seconds
        self._decrease = decrease
        self._floor = floor_per_minute / 60.0
        self._recovery = recovery
        self._budget_rpm = self._check(requests_per_minute)
        self._budget = self._budget_rpm / 60.0
        self._rate = self._budget
        now = monotonic()
        self._tat = now  # theoretical arrival time of the next request (GCRA)
        self._hold_until = now - 1.0
        self._cut_at = now - 1.0
        self.cuts = 0

    def __repr__(self) -> str:
        return f"Pacer({self.requests_per_minute:.0f}/min of {self.budget_per_minute:.0f}/min)"

    @staticmethod
    def _check(requests_per_minute: float) -> float:
        if not requests_per_minute > 0:
            raise ValueError(f"requests_per_minute must be > 0, not {requests_per_minute}")
        return float(requests_per_minute)

    @property
    def budget_per_minute(self) -> float:
        return self._budget_rpm

    @property
    def requests_per_minute(self) -> float:
        """The current rate: the budget, or less after 429s."""
        return self._rate * 60.0

    def now(self) -> float:
        return self._monotonic()

    def set_budget(self, requests_per_minute: float) -> None:
        """A new budget; a rate not cut by 429s follows it, a cut one stays below it."""
        budget_rpm = self._check(requests_per_minute)
        budget = budget_rpm / 60.0
        with self._lock:
            uncut = self._rate >= self._budget
            self._budget_rpm = budget_rpm
            self._budget = budget
            self._rate = budget if uncut else min(self._rate, budget)

    def reserve(self) -> Slot:
        """Take the next slot on the account's timeline: no earlier than the rate allows, and not
        while the account is held after a 429."""
        with self._lock:
            now = self._monotonic()
            interval = 1.0 / self._rate
            paced = max(now, self._tat - self._tau)
            start = max(paced, self._hold_until)
            # After a hold, start from an empty burst so the account does not get a spike on resuming.
            base = start + self._tau if start > paced else start
            self._tat = max(self._tat, base) + interval
            # The time the account is on hold counts as waiting out the 429; the rest is pacing.
            held = max(0.0, min(start, self._hold_until) - now)
            return Slot(start, start - now, held)

    def valid(self, slot: Slot) -> bool:
        """False when a 429 put the account on hold past this slot after it was reserved: take a new one."""
        with self._lock:
            return self._hold_until <= slot.start

    def throttled(self, sent_at: float, wait: float) -> None:
        """A request sent at `sent_at` (its slot's start) was answered 429: hold every client of the
        account for `wait` seconds, and cut the rate, once for all the requests sent before the cut."""
        with self._lock:
            now = self._monotonic()
            self._hold_until = max(self._hold_until, now + wait)
            if sent_at <= self._cut_at:
                return  # paced at the old rate: the same signal as the 429 that cut it
            before = self._rate
            self._rate = max(min(self._floor, self._budget), self._rate * self._decrease)
            self._cut_at = now
            self.cuts += 1
        after = self._rate * 60
        logger.info("rate limited: pacing %.0f/min instead of %.0f/min, holding %.2fs", after, before * 60, wait)

    def succeeded(self) -> None:
        """A request was answered without a 429: win back `recovery` of the budget."""
        with self._lock:
            if self._rate < self._budget:
                self._rate = min(self._budget, self._rate + self._budget * self._recovery)


_registry: dict[str, Pacer] = {}
_registry_lock = threading.Lock()


def account_key(base_url: str) -> str:
    """The account's identity in the registry: its base URL, normalised (scheme and host in lower
    case, default port dropped, no trailing slash), so spellings of one URL share one budget."""
    url = URL(base_url.strip())
    if not url.is_absolute():
        return base_url.strip().rstrip("/")
    return str(url.with_path(url.path.rstrip("/")).with_query(None).with_fragment(None))


def shared_pacer(key: str, requests_per_minute: float) -> Pacer:
    """The process's pacer for `key`, created on first use. A later caller with another budget sets
    it for every client of the key (the setting is per account, the latest one wins)."""
    with _registry_lock:
        pacer = _registry.get(key)
        if pacer is None:
            pacer = _registry[key] = Pacer(requests_per_minute)
            return pacer
    if pacer.budget_per_minute != float(requests_per_minute):
        pacer.set_budget(requests_per_minute)
    return pacer


def install(key: str, pacer: Pacer) -> None:
    """Make `pacer` the one every client of `key` created from now on shares (e.g. with its own clock)."""
    with _registry_lock:
        _registry[key] = pacer


def forget(key: str) -> None:
    """Drop `key`'s pacer: the next client of the key starts a fresh budget."""
    with _registry_lock:
        _registry.pop(key, None)
