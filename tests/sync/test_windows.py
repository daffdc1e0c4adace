from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from ordersync.config import SyncSettings
from ordersync.sync.windows import HISTORY_UNTIL, Window, history, plan
from ordersync.tenants import Tenant

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
S = SyncSettings(overlap_minutes=30, index_lag_minutes=10, trailing_days=3, full_days=30, initial_days=30)


def tenant(go_live: date | None = None) -> Tenant:
    return Tenant(
        1,
        "t",
        True,
        6,
        None,
        go_live,
        False,
        True,
        "vtex",
        "a",
        "http://x",
        "K",
        "T",
        "America/Argentina/Buenos_Aires",
    )


def test_first_run_with_recent_go_live_reads_from_go_live_in_the_tenant_time_zone() -> None:
    (w,) = plan("incremental", tenant(date(2025, 3, 9)), {}, NOW, S)
    assert (w.stream, w.field) == ("creation", "creationDate")
    assert w.start == datetime(2025, 3, 9, 3, 0, tzinfo=UTC)  # midnight in Buenos Aires (UTC-3)
    assert w.end == NOW - timedelta(minutes=10)


def test_first_run_with_old_go_live_leaves_history_to_the_historical_mode() -> None:
    (w,) = plan("incremental", tenant(date(2025, 1, 1)), {}, NOW, S)
    assert w.start == NOW - timedelta(days=3)


@pytest.mark.parametrize("direction", ["front_to_back", "back_to_front"])
def test_historical_batches_cover_go_live_to_first_incremental_once(direction: str) -> None:
    s = S.model_copy(update={"historical_direction": direction, "historical_batch_days": 7})
    t = tenant(date(2025, 1, 1))
    until = NOW - timedelta(days=3)
    ck: dict[str, datetime] = {"creation": NOW, HISTORY_UNTIL: until}
    covered: list[tuple[datetime, datetime]] = []
    while True:
        batch = plan("historical", t, ck, NOW, s, historical_batches=1)
        if not batch:
            break
        (w,) = batch
        assert w.end - w.start <= timedelta(days=7)
        covered.append((w.start, w.end))
        for chunk in w.chunks(timedelta(days=1)):
            ck[w.stream] = w.checkpoint_after(chunk)  # what the engine commits per chunk
    live = datetime(2025, 1, 1, 3, tzinfo=UTC)
    covered.sort()
    assert covered[0][0] == live and covered[-1][1] == until
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert not history(t, ck, direction).pending and history(t, ck, direction).progress == 1.0


def test_first_run_without_go_live_reads_initial_days() -> None:
    (w,) = plan("incremental", tenant(), {}, NOW, S)
    assert w.start == NOW - timedelta(days=30)


def test_incremental_reads_trailing_window_and_change_dates_since_checkpoints() -> None:
    ck = {
        "creation": NOW - timedelta(hours=6),
        "authorized": NOW - timedelta(hours=5),
        "invoiced": NOW - timedelta(hours=7),
    }
    windows = {w.stream: w for w in plan("incremental", tenant(), ck, NOW, S)}
    end = NOW - timedelta(minutes=10)
    assert windows["creation"] == Window("creation", "creationDate", NOW - timedelta(days=3), end)
    assert windows["authorized"].start == NOW - timedelta(hours=5, minutes=30)
    assert windows["invoiced"].start == NOW - timedelta(hours=7, minutes=30)
    assert windows["invoiced"].field == "invoicedDate"


def test_old_checkpoint_resumes_from_the_checkpoint_minus_overlap() -> None:
    ck = {"creation": NOW - timedelta(days=9)}
    windows = plan("incremental", tenant(), ck, NOW, S)
    assert windows[0].start == NOW - timedelta(days=9, minutes=30)


def test_full_mode_rereads_thirty_days_but_nothing_before_go_live() -> None:
    (w,) = plan("full", tenant(), {"creation": NOW}, NOW, S)
    assert w.start == NOW - timedelta(minutes=10) - timedelta(days=30)
    (w,) = plan("full", tenant(date(2025, 3, 1)), {"creation": NOW}, NOW, S)
    assert w.start == datetime(2025, 3, 1, 3, tzinfo=UTC)


def test_chunks_share_boundaries_and_cover_the_window() -> None:
    w = Window("creation", "creationDate", NOW - timedelta(days=2, hours=3), NOW)
    chunks = w.chunks(timedelta(days=1))
    assert chunks[0][0] == w.start and chunks[-1][1] == w.end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
