"""Which date windows a sync reads.

The list endpoint can filter only by creation, authorization and invoice dates, and shows an order
minutes after it changes. So:
- incremental reads creation dates from the checkpoint (minus an overlap) to now minus the index-lag
  margin, widened to a trailing window (default 3 days) so later changes to recent orders are seen,
  plus authorization and invoice dates since their own checkpoints (minus the overlap). A tenant's
  first incremental reads `initial_days` back, or, when it has a go-live date, the trailing window
  only: older history is the historical mode's job;
- historical fills go-live date .. first incremental start in batches of `batch_days`, front to back
  or back to front, resumable from its own checkpoint;
- full re-reads creation dates over the last `full_days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from ordersync.config import SyncSettings
from ordersync.tenants import Tenant

MODES: tuple[str, ...] = ("incremental", "historical", "full")
STREAM_FIELDS = {"creation": "creationDate", "authorized": "authorizedDate", "invoiced": "invoicedDate"}
HISTORY_UNTIL = "historical_until"  # checkpoint: where history ends (the first incremental's start)
HISTORY_STREAMS = {"front_to_back": "historical_forward", "back_to_front": "historical_backward"}


@dataclass(frozen=True)
class Window:
    stream: str  # checkpoint name
    field: str  # the list filter's date field
    start: datetime
    end: datetime
    backward: bool = False  # read newest chunk first; the checkpoint then moves down

    def chunks(self, size: timedelta) -> list[tuple[datetime, datetime]]:
        """Consecutive slices sharing their boundaries (list filters are inclusive at both ends)."""
        out: list[tuple[datetime, datetime]] = []
        cur = self.start
        while cur < self.end:
            nxt = min(cur + size, self.end)
            out.append((cur, nxt))
            cur = nxt
        return out[::-1] if self.backward else out

    def checkpoint_after(self, chunk: tuple[datetime, datetime]) -> datetime:
        return chunk[0] if self.backward else chunk[1]


def go_live_start(tenant: Tenant) -> datetime | None:
    if tenant.go_live_date is None:
        return None
    return datetime.combine(tenant.go_live_date, time(0), tzinfo=tenant.tz).astimezone(UTC)


def first_incremental_start(tenant: Tenant, now: datetime, settings: SyncSettings) -> datetime:
    live = go_live_start(tenant)
    if live is None:
        return now - timedelta(days=settings.initial_days)
    return max(live, now - timedelta(days=settings.trailing_days))


@dataclass(frozen=True)
class History:
    """The historical range and how much of it is done."""

    start: datetime | None  # go-live
    until: datetime | None  # first incremental's start
    frontier: datetime | None  # checkpoint of the chosen direction
    direction: str

    @property
    def pending(self) -> bool:
        return self.remaining is not None and self.remaining[0] < self.remaining[1]

    @property
    def remaining(self) -> tuple[datetime, datetime] | None:
        if self.start is None or self.until is None:
            return None
        if self.direction == "front_to_back":
            return (self.frontier or self.start, self.until)
        return (self.start, self.frontier or self.until)

    @property
    def progress(self) -> float:
        if self.start is None or self.until is None or self.until <= self.start:
            return 1.0
        rem = self.remaining
        assert rem is not None
        left = max((rem[1] - rem[0]).total_seconds(), 0.0)
        return 1.0 - left / (self.until - self.start).total_seconds()


def history(tenant: Tenant, checkpoints: dict[str, datetime], direction: str) -> History:
    return History(
        go_live_start(tenant),
        checkpoints.get(HISTORY_UNTIL),
        checkpoints.get(HISTORY_STREAMS[direction]),
        direction,
    )


def plan(
    mode: str,
    tenant: Tenant,
    checkpoints: dict[str, datetime],
    now: datetime,
    settings: SyncSettings,
    *,
    historical_batches: int | None = None,
) -> list[Window]:
    end = now - timedelta(minutes=settings.index_lag_minutes)
    overlap = timedelta(minutes=settings.overlap_minutes)
    creation = checkpoints.get("creation")
    if mode == "historical":
        return _historical(tenant, checkpoints, settings, historical_batches)
    if mode == "full":
        start = end - timedelta(days=settings.full_days)
        live = go_live_start(tenant)
        if live is not None:  # nothing before go-live is ever synced
            start = max(start, live)
    elif creation is None:
        start = first_incremental_start(tenant, now, settings)
    else:
        start = min(creation - overlap, now - timedelta(days=settings.trailing_days))
    windows = [Window("creation", "creationDate", start, end)]
    if mode == "incremental" and creation is not None:
        for stream in ("authorized", "invoiced"):
            since = checkpoints.get(stream, creation)
            windows.append(Window(stream, STREAM_FIELDS[stream], min(since - overlap, end), end))
    return [w for w in windows if w.start <= w.end]


def _historical(
    tenant: Tenant, checkpoints: dict[str, datetime], settings: SyncSettings, batches: int | None
) -> list[Window]:
    h = history(tenant, checkpoints, settings.historical_direction)
    remaining = h.remaining
    if remaining is None or not h.pending:
        return []
    lo, hi = remaining
    size = timedelta(days=settings.historical_batch_days)
    stream = HISTORY_STREAMS[h.direction]
    out: list[Window] = []
    while lo < hi and (batches is None or len(out) < batches):
        if h.direction == "front_to_back":
            out.append(Window(stream, "creationDate", lo, min(lo + size, hi)))
            lo = min(lo + size, hi)
        else:
            out.append(Window(stream, "creationDate", max(hi - size, lo), hi, backward=True))
            hi = max(hi - size, lo)
    return out
