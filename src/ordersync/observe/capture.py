"""Change-capture health per tenant, and the fleet's hours: what the Overview shows beside `status`.

Per tenant: the feed's lag and latest round, the latest hook notification and the notifications
waiting in the inbox (cdp.capture_state, written by sources/vtex/capture_log.py, and
cdp.hook_inbox). Per hour across the fleet: versions landed (cdp.landing_batches), requests to the
stores and how many were answered 429 (the pull's cdp.sync_runs with the feed's and the hook's
cdp.capture_hours). Each is one aggregate query whatever the number of tenants.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync.sources.vtex.capture_log import hour_of
from ordersync.sources.vtex.feed import FEED
from ordersync.sources.vtex.hook import STREAM as HOOK
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

HOUR_SECONDS = 3600

_STATE = (
    "SELECT tenant_id, stream, last_round_at, last_status, last_error, last_ok_at, last_event_at, lag_seconds "
    "FROM cdp.capture_state"
)
_WAITING = "SELECT tenant_id, count(*) FROM cdp.hook_inbox WHERE processed_at IS NULL GROUP BY tenant_id"

# Each source's rows by the hour they started in, as seconds since the epoch (the same on both
# warehouses whatever their session's time zone); bounds bound as parameters, in order.
_HOUR = "CAST(floor(extract(epoch FROM {col}) / 3600) AS BIGINT) * 3600"
_LANDED = (
    f"SELECT {_HOUR.format(col='landed_at')} AS h, sum(rows) FROM cdp.landing_batches "
    "WHERE landed_at >= ? AND landed_at < ? GROUP BY 1"
)
_PULLED = (
    f"SELECT {_HOUR.format(col='started_at')} AS h, sum(list_calls + get_calls + retries), "
    "sum(coalesce(throttled, 0)) FROM cdp.sync_runs WHERE started_at >= ? AND started_at < ? GROUP BY 1"
)
_CAPTURED = (
    f"SELECT {_HOUR.format(col='hour')} AS h, sum(requests), sum(throttled) FROM cdp.capture_hours "
    "WHERE hour >= ? AND hour < ? GROUP BY 1"
)


@dataclass(frozen=True)
class CaptureHealth:
    """One tenant's change capture, as last recorded (None: never happened)."""

    tenant: str
    tenant_id: int
    change_capture: str
    #: feed: how long the oldest change the latest round read had waited
    feed_lag_seconds: float | None
    feed_last_round_at: datetime | None
    feed_last_status: str | None
    feed_last_error: str | None
    feed_last_ok_at: datetime | None
    hook_last_notification_at: datetime | None
    hook_last_round_at: datetime | None
    hook_last_status: str | None
    hook_last_error: str | None
    #: notifications in the inbox not yet fetched and landed
    hook_waiting: int

    def as_dict(self) -> dict[str, Any]:
        # every field is a plain value: read as it is, not copied deeply as asdict() does (the
        # Overview asks this of a thousand tenants)
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values}


@dataclass(frozen=True)
class FleetHour:
    """One UTC hour across every tenant."""

    hour: datetime
    versions_landed: int
    store_requests: int
    throttled: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hour": self.hour.isoformat()}


def capture_health(wh: Warehouse, tenants: list[Tenant]) -> list[CaptureHealth]:
    """Each tenant's change capture, in the order given: two queries in all."""
    state: dict[tuple[int, str], tuple[Any, ...]] = {(int(r[0]), str(r[1])): r[2:] for r in wh.query(_STATE)}
    waiting = {int(tid): int(n) for tid, n in wh.query(_WAITING)}
    out = []
    for t in tenants:
        feed = state.get((t.tenant_id, FEED), (None,) * 6)
        hook = state.get((t.tenant_id, HOOK), (None,) * 6)
        out.append(
            CaptureHealth(
                tenant=t.tenant_name,
                tenant_id=t.tenant_id,
                change_capture=t.change_capture,
                feed_lag_seconds=None if feed[5] is None else float(feed[5]),
                feed_last_round_at=feed[0],
                feed_last_status=feed[1],
                feed_last_error=feed[2],
                feed_last_ok_at=feed[3],
                hook_last_notification_at=hook[4],
                hook_last_round_at=hook[0],
                hook_last_status=hook[1],
                hook_last_error=hook[2],
                hook_waiting=waiting.get(t.tenant_id, 0),
            )
        )
    return out


def fleet_hours(wh: Warehouse, since: datetime, until: datetime) -> list[FleetHour]:
    """Every UTC hour from the one holding `since` to the one holding `until`, oldest first, each
    with what the fleet landed and asked of the stores in it (zeros for a quiet hour)."""
    start = hour_of(since)
    end = hour_of(until) + timedelta(hours=1)
    landed = {int(h): int(n or 0) for h, n in wh.query(_LANDED, (start, end))}
    asked: dict[int, list[int]] = {}
    for sql in (_PULLED, _CAPTURED):
        for h, requests, throttled in wh.query(sql, (start, end)):
            totals = asked.setdefault(int(h), [0, 0])
            totals[0] += int(requests or 0)
            totals[1] += int(throttled or 0)
    first, last = int(start.timestamp()), int(end.timestamp())
    return [
        FleetHour(datetime.fromtimestamp(h, UTC), landed.get(h, 0), asked.get(h, [0, 0])[0], asked.get(h, [0, 0])[1])
        for h in range(first, last, HOUR_SECONDS)
    ]
