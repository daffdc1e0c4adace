"""The retry policy on its own: Retry-After forms and backoff bounds, for every caller that waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ordersync.sources.http.retry import (
    MAX_BACKOFF_SECONDS,
    RETRIABLE_STATUSES,
    RetryPolicy,
    backoff,
    parse_retry_after,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 1.5 ", 1.5),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),  # obsolete RFC 850 form
        ("Wed May  1 12:00:05 2024", 5.0),  # obsolete asctime form
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_backoff=10.0, base=0.25)
    for retry, cap in [(1, 0.25), (2, 0.5), (3, 1.0), (6, 8.0), (7, 10.0), (200, 10.0)]:
        waits = [policy.backoff(retry) for _ in range(200)]
        assert all(cap / 2 <= w <= cap for w in waits)
        assert len(set(waits)) > 1


def test_one_backoff_doubles_from_its_first_wait_and_is_always_capped() -> None:
    assert [backoff(2.0, retry, 10.0) for retry in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff(30.0, 10_000) == MAX_BACKOFF_SECONDS == 3600.0  # no caller waits longer, by default
    assert backoff(0.0, 5) == 0.0 and backoff(1.0, 0) == 1.0
    assert all(5.0 <= backoff(2.0, 4, 10.0, jitter=True) <= 10.0 for _ in range(100))


def test_throttle_wait_prefers_the_server_and_caps_it() -> None:
    policy = RetryPolicy(max_backoff=60.0)
    assert policy.throttle_wait(2.5, 1) == 2.5
    assert policy.throttle_wait(900.0, 1) == 60.0
    assert policy.throttle_wait(0.0, 1) == 0.1  # "now", repeated, must still add up to the give-up cap
    assert 0.5 <= policy.throttle_wait(None, 1) <= 1.0
    assert 30.0 <= policy.throttle_wait(None, 9) <= 60.0


def test_retriable_statuses() -> None:
    assert {408, 429, 500, 502, 503, 504, 599} <= RETRIABLE_STATUSES
    assert not {400, 401, 403, 404, 409, 422} & RETRIABLE_STATUSES
