from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ordersync.tenants import Tenant
from ordersync.worker.schedule import (
    ScheduleSettings,
    due,
    full_due,
    incremental_due,
    last_full_slot,
    off_hours,
)

S = ScheduleSettings()


def tenant(tz: str = "America/Argentina/Buenos_Aires", freq: int = 6, last: datetime | None = None) -> Tenant:
    return Tenant(1, "t", True, freq, last, date(2025, 1, 1), False, True, "vtex", "a", "http://x", "K", "T", tz)


def test_incremental_due_on_the_tenant_frequency() -> None:
    now = datetime(2025, 3, 12, 12, tzinfo=UTC)
    assert incremental_due(tenant(last=None), now)
    assert not incremental_due(tenant(last=now - timedelta(hours=5, minutes=59)), now)
    assert incremental_due(tenant(last=now - timedelta(hours=6)), now)
    assert not incremental_due(tenant(freq=12, last=now - timedelta(hours=11)), now)


@pytest.mark.parametrize(
    ("tz", "expected_utc"),
    [
        ("America/Argentina/Buenos_Aires", datetime(2025, 3, 9, 5, tzinfo=UTC)),  # UTC-3
        ("Asia/Kolkata", datetime(2025, 3, 8, 20, 30, tzinfo=UTC)),  # UTC+5:30
        ("UTC", datetime(2025, 3, 9, 2, tzinfo=UTC)),
    ],
)
def test_full_slot_is_sunday_two_am_local(tz: str, expected_utc: datetime) -> None:
    wednesday = datetime(2025, 3, 12, 12, tzinfo=UTC)
    assert last_full_slot(tenant(tz), wednesday, S) == expected_utc


def test_full_due_once_per_sunday_and_not_for_tenants_newer_than_the_slot() -> None:
    t = tenant("UTC")
    slot = datetime(2025, 3, 9, 2, tzinfo=UTC)
    since = slot - timedelta(days=3)
    assert not full_due(t, slot - timedelta(minutes=1), None, since, S)
    assert full_due(t, slot, None, since, S)
    assert full_due(t, slot + timedelta(hours=5), slot - timedelta(days=7), since, S)  # catch up the same day
    assert not full_due(t, slot + timedelta(hours=1), slot, since, S)  # already done
    assert not full_due(t, slot + timedelta(hours=30), None, since, S)  # too late: wait for next Sunday
    assert not full_due(t, slot + timedelta(hours=1), None, slot + timedelta(minutes=30), S)


def test_off_hours_are_local() -> None:
    t = tenant("America/Argentina/Buenos_Aires")
    assert off_hours(t, datetime(2025, 3, 12, 10, tzinfo=UTC), S)  # 07:00 local
    assert not off_hours(t, datetime(2025, 3, 12, 11, tzinfo=UTC), S)  # 08:00 local
    assert not off_hours(t, datetime(2025, 3, 12, 22, 59, tzinfo=UTC), S)  # 19:59 local
    assert off_hours(t, datetime(2025, 3, 12, 23, tzinfo=UTC), S)  # 20:00 local


def test_due_combines_and_full_replaces_incremental() -> None:
    t = tenant("UTC", last=datetime(2025, 3, 8, 20, tzinfo=UTC))
    sunday = datetime(2025, 3, 9, 2, tzinfo=UTC)
    d = due(t, sunday, last_full=None, first_sync=sunday - timedelta(days=5), historical_pending=True, s=S)
    assert d.full and not d.incremental and d.historical
    d = due(t, sunday, last_full=None, first_sync=None, historical_pending=True, s=S)
    assert d.incremental and not d.full and not d.historical  # no history before the first incremental
    disabled = Tenant(**{**t.__dict__, "sync_enabled": False})
    assert not due(disabled, sunday, last_full=None, first_sync=None, historical_pending=True, s=S).any
