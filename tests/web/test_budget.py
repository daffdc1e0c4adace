"""The per-token items budget ([serve] max_items_per_minute) on its own clock."""

from __future__ import annotations

import pytest

from ordersync.web.budget import Budget, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_refused_batch_holds_the_token_until_it_would_fit() -> None:
    clock = Clock()
    budget = Budget(60, now=clock)  # one item a second
    assert budget.waiting("t") is None
    assert budget.take("t", 50) is None
    assert budget.waiting("t") is None  # nothing was refused yet
    wait = budget.take("t", 20)  # 10 left: 10 seconds short
    assert wait == pytest.approx(10.0)
    assert budget.waiting("t") == pytest.approx(10.0)
    clock.now = 4.0
    assert budget.waiting("t") == pytest.approx(6.0)
    assert budget.waiting("other") is None  # each token its own bucket
    clock.now = 10.0
    assert budget.waiting("t") is None
    assert budget.take("t", 20) is None
    assert budget.waiting("t") is None  # a batch that fits clears the hold


def test_a_batch_over_a_minute_never_fits_and_holds_until_the_bucket_is_full() -> None:
    clock = Clock()
    budget = Budget(60, now=clock)
    assert budget.take("t", 61) == 60.0
    assert budget.waiting("t") is None  # the bucket is full: the next (smaller) batch is read
    assert budget.take("t", 30) is None
    assert budget.take("t", 100) == 60.0
    assert budget.waiting("t") == pytest.approx(30.0)


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert retry_after(0.001) == "1"
    assert retry_after(2.2) == "3"


def test_a_token_with_its_own_budget_refills_at_its_rate_and_a_change_applies_at_once() -> None:
    clock = Clock()
    budget = Budget(60, now=clock)
    assert budget.take("big", 600, per_minute=600) is None  # over the server's 60: its own 600
    assert budget.take("big", 20, per_minute=600) == pytest.approx(2.0)  # 10 a second
    assert budget.limit_of("big") == 600 and budget.limit_of("new") == 60
    clock.now = 1.0
    assert budget.waiting("big") == pytest.approx(1.0)
    # lowered to the server's: the bucket keeps its share (10 of 600 -> 1 of 60)
    assert budget.take("big", 2, per_minute=None) == pytest.approx(1.0)
    clock.now = 2.0
    assert budget.take("big", 2, per_minute=None) is None
