"""The record of the change capture: each feed round and each tenant's hook fetch, written to
cdp.capture_state (the latest round per tenant and stream) and cdp.capture_hours (per-hour totals),
so status, the Overview and the metrics can tell how current the capture is from any process.

A record that cannot be written is logged and left out: it never fails the round it describes
(what the round landed is committed already).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from ordersync.errors import OrdersyncError
from ordersync.outcomes import RoundStatus
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync.capture")

_HOURS = (
    "INSERT INTO cdp.capture_hours (tenant_id, stream, hour, rounds, failed, events, fetched, landed, "
    "quarantined, requests, throttled) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, stream, hour) DO UPDATE SET rounds = cdp.capture_hours.rounds + 1, "
    "failed = cdp.capture_hours.failed + excluded.failed, events = cdp.capture_hours.events + excluded.events, "
    "fetched = cdp.capture_hours.fetched + excluded.fetched, landed = cdp.capture_hours.landed + excluded.landed, "
    "quarantined = cdp.capture_hours.quarantined + excluded.quarantined, "
    "requests = cdp.capture_hours.requests + excluded.requests, "
    "throttled = cdp.capture_hours.throttled + excluded.throttled"
)
# A round that read nothing leaves the last event's time, and one that could not read leaves the lag
# as last known.
_STATE = (
    "INSERT INTO cdp.capture_state (tenant_id, stream, last_round_at, last_status, last_error, last_ok_at, "
    "last_event_at, lag_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, stream) DO UPDATE SET last_round_at = excluded.last_round_at, "
    "last_status = excluded.last_status, last_error = excluded.last_error, "
    "last_ok_at = coalesce(excluded.last_ok_at, cdp.capture_state.last_ok_at), "
    "last_event_at = coalesce(excluded.last_event_at, cdp.capture_state.last_event_at), "
    "lag_seconds = coalesce(excluded.lag_seconds, cdp.capture_state.lag_seconds)"
)
_NOTIFIED = (
    "INSERT INTO cdp.capture_state (tenant_id, stream, last_event_at) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant_id, stream) DO UPDATE SET last_event_at = excluded.last_event_at"
)
_MAX_ERROR = 2000


@dataclass(frozen=True)
class CaptureRound:
    """What one round of one tenant's feed, or one fetch of its hook inbox, did."""

    tenant_id: int
    stream: str
    began: datetime
    status: RoundStatus
    error: str | None = None
    #: feed events read, or notifications taken from the inbox
    events: int = 0
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    #: every call to the store, retries included, and those answered 429
    requests: int = 0
    throttled: int = 0
    #: feed: how long the oldest change read had waited (0 when none was read; None: not read)
    lag_seconds: float | None = None
    #: feed: when this round read an event (None: none); a hook's is when a notification arrives
    event_at: datetime | None = None


def hour_of(moment: datetime) -> datetime:
    """The UTC hour `moment` falls in: the key of cdp.capture_hours."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def record(wh: Warehouse, r: CaptureRound) -> None:
    """Add the round to its hour and make it its tenant's latest (logged, never raised, on failure)."""
    clean = r.status.ok and r.error is None  # a throttled round is not failed, nor clean
    try:
        with wh.transaction():
            wh.execute(
                _HOURS,
                (
                    r.tenant_id,
                    r.stream,
                    hour_of(r.began),
                    0 if r.status.ok else 1,
                    r.events,
                    r.fetched,
                    r.landed,
                    r.quarantined,
                    r.requests,
                    r.throttled,
                ),
            )
            wh.execute(
                _STATE,
                (
                    r.tenant_id,
                    r.stream,
                    r.began,
                    r.status.value,
                    None if r.error is None else r.error[:_MAX_ERROR],
                    r.began if clean else None,
                    r.event_at,
                    r.lag_seconds,
                ),
            )
    except OrdersyncError as exc:
        log.warning("could not record the %s round of tenant %s: %s", r.stream, r.tenant_id, exc)


def notified(wh: Warehouse, stream: str, latest: dict[int, datetime]) -> None:
    """The latest notification received per tenant (call inside the transaction that keeps them)."""
    for tenant_id, at in latest.items():
        wh.execute(_NOTIFIED, (tenant_id, stream, at))
