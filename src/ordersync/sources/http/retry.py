"""When to try a request again, and how long to wait first: the one back-off and the one Retry-After
parser, for every caller that waits (the store clients, the job retries, webhook deliveries)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 408, 429 and 5xx say "not now"; every other status says "not ever".
RETRIABLE_STATUSES = frozenset({408, 429, *range(500, 600)})
# No caller waits longer than this between two attempts, whatever the doubling or a server says.
MAX_BACKOFF_SECONDS = 3600.0


def backoff(first: float, retry: int, cap: float = MAX_BACKOFF_SECONDS, *, jitter: bool = False) -> float:
    """Seconds to wait before retry number `retry` (1-based): `first`, doubling, at most `cap`.

    With `jitter`, equal jitter: uniformly between half and all of it, so clients that failed together
    do not come back together.
    """
    wait = min(cap, first * 2.0 ** min(max(retry - 1, 0), 62))
    return wait / 2 + random.random() * wait / 2 if jitter else float(wait)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter; the server's Retry-After wins when it gives one.

    `max_retries` bounds the retries of 5xx, timeouts and malformed bodies; 429s do not count against
    it, only against `max_throttle_wait`, the seconds one request may spend waiting out 429s.
    """

    max_retries: int = 8
    max_backoff: float = 60.0
    base: float = 0.2
    # A 429 without Retry-After: start slower, the account's whole budget is spent, not one request.
    throttle_base: float = 1.0
    min_throttle_wait: float = 0.1
    max_throttle_wait: float = 900.0

    def backoff(self, retry: int, base: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based): equal jitter over a doubling cap."""
        return backoff(self.base if base is None else base, retry, self.max_backoff, jitter=True)

    def throttle_wait(self, retry_after: float | None, retry: int) -> float:
        """Seconds to wait after a 429: the server's Retry-After (at least `min_throttle_wait`, so a
        "retry now" repeated forever still reaches `max_throttle_wait`), else a backoff of its own."""
        if retry_after is None:
            return self.backoff(retry, self.throttle_base)
        return min(self.max_backoff, max(self.min_throttle_wait, retry_after))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds (fractions allowed) or an HTTP-date (RFC 9110).

    None when the header is absent or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(http_date: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 850 and asctime forms carry no zone; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)
