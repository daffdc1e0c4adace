"""Which date windows a sync reads.

The list endpoint can filter only by creation, authorization and invoice dates, and shows an order
minutes after it changes. So an incremental run reads:
- creation dates from the checkpoint (minus an overlap) to now minus the index-lag margin, widened to
  a trailing window (default 3 days) so later changes to recent orders are seen;
- authorization and invoice dates since their own checkpoints (minus the overlap).
A full run re-reads creation dates over the last `full_days` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from ordersync.config import SyncSettings
from ordersync.tenants import Tenant

Mode = Literal["incremental", "full"]
MODES: tuple[str, ...] = ("incremental", "full")

STREAM_FIELDS = {"creation": "creationDate", "authorized": "authorizedDate", "invoiced": "invoicedDate"}


@dataclass(frozen=True)
class Window:
    stream: str  # checkpoint name: creation | authorized | invoiced
    field: str  # the list filter's date field
    start: datetime
    end: datetime

    def chunks(self, size: timedelta) -> list[tuple[datetime, datetime]]:
        """Consecutive slices sharing their boundaries (list filters are inclusive at both ends)."""
        out: list[tuple[datetime, datetime]] = []
        cur = self.start
        while cur < self.end:
            nxt = min(cur + size, self.end)
            out.append((cur, nxt))
            cur = nxt
        return out


def initial_start(tenant: Tenant, now: datetime, settings: SyncSettings) -> datetime:
    if tenant.go_live_date is not None:
        return datetime.combine(tenant.go_live_date, time(0), tzinfo=tenant.tz).astimezone(UTC)
    return now - timedelta(days=settings.initial_days)


def plan(
    mode: str, tenant: Tenant, checkpoints: dict[str, datetime], now: datetime, settings: SyncSettings
) -> list[Window]:
    end = now - timedelta(minutes=settings.index_lag_minutes)
    overlap = timedelta(minutes=settings.overlap_minutes)
    creation = checkpoints.get("creation")
    if mode == "full":
        start = end - timedelta(days=settings.full_days)
    elif creation is None:
        start = initial_start(tenant, now, settings)
    else:
        start = min(creation - overlap, now - timedelta(days=settings.trailing_days))
    windows = [Window("creation", "creationDate", start, end)]
    if mode == "incremental" and creation is not None:
        for stream in ("authorized", "invoiced"):
            since = checkpoints.get(stream, creation)
            windows.append(Window(stream, STREAM_FIELDS[stream], min(since - overlap, end), end))
    return [w for w in windows if w.start <= w.end]
