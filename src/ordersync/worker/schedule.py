"""What is due for a tenant at a given moment, in the tenant's own time zone (the seed's schedule).

- incremental: when `sync_frequency_hours` have passed since `last_sync_at`;
- full: every Sunday at 02:00 local, once; a worker that was down at 02:00 catches up later that day;
- historical: a 7-day batch outside business hours (default 08:00-20:00 local), only once the tenant's
  first incremental has run, and at lower priority than every incremental of the tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from pydantic import BaseModel, Field

from ordersync.tenants import Tenant

SUNDAY = 6


class ScheduleSettings(BaseModel):
    tick_seconds: float = Field(3600.0, gt=0, description="seconds (on ordersync's clock) between ticks")
    business_hours_start: int = Field(8, ge=0, le=24)
    business_hours_end: int = Field(20, ge=0, le=24)
    full_weekday: int = Field(SUNDAY, ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    full_hour: int = Field(2, ge=0, le=23)
    full_catch_up_hours: float = Field(24.0, gt=0, description="a missed full sync still runs this long after")
    concurrency: int = Field(4, ge=1, le=256, description="tenants synced at once")
    attempts: int = Field(3, ge=1, description="tries per job before it is left for the next tick")
    retry_backoff_seconds: float = Field(2.0, ge=0)
    build_after_tick: bool = True


@dataclass(frozen=True)
class Due:
    incremental: bool
    full: bool
    historical: bool

    @property
    def any(self) -> bool:
        return self.incremental or self.full or self.historical


def incremental_due(tenant: Tenant, now: datetime) -> bool:
    due_at = tenant.next_sync_due
    return due_at is None or now >= due_at


def last_full_slot(tenant: Tenant, now: datetime, s: ScheduleSettings) -> datetime:
    """The most recent weekly full-sync moment at or before now (local weekday and hour)."""
    local = now.astimezone(tenant.tz)
    back = (local.weekday() - s.full_weekday) % 7
    day = local.date() - timedelta(days=back)
    slot = datetime.combine(day, time(s.full_hour), tzinfo=tenant.tz)
    if slot > local:
        slot = datetime.combine(day - timedelta(days=7), time(s.full_hour), tzinfo=tenant.tz)
    return slot


def full_due(tenant: Tenant, now: datetime, last_full: datetime | None, since: datetime, s: ScheduleSettings) -> bool:
    """Due once per slot, if the tenant was already being synced at the slot (`since`)."""
    slot = last_full_slot(tenant, now, s)
    if slot < since or now - slot > timedelta(hours=s.full_catch_up_hours):
        return False
    return last_full is None or last_full < slot


def off_hours(tenant: Tenant, now: datetime, s: ScheduleSettings) -> bool:
    hour = now.astimezone(tenant.tz).hour
    return not (s.business_hours_start <= hour < s.business_hours_end)


def due(
    tenant: Tenant,
    now: datetime,
    *,
    last_full: datetime | None,
    first_sync: datetime | None,
    historical_pending: bool,
    s: ScheduleSettings,
) -> Due:
    if not (tenant.sync_enabled and tenant.is_active):
        return Due(False, False, False)
    full = first_sync is not None and full_due(tenant, now, last_full, first_sync, s)
    incremental = not full and incremental_due(tenant, now)
    historical = historical_pending and first_sync is not None and off_hours(tenant, now, s)
    return Due(incremental, full, historical)
