"""VTEX Feed v3: read the tenant's queue of order changes, fetch each changed order once, land it,
and only then commit the events.

The feed delivers every change its filter selects (setup's default: every change of every order)
at least once, in no order, and some twice. A read hides its events for the queue's visibility
timeout (240 s); an event not committed by then comes back. So a round reads lots of 10 while they
come back full (at most `max_lots`), asks get-order once per distinct order, lands the bodies in one
transaction fenced by the tenant's "feed" lease, and commits the handles after that transaction has
committed. A consumer killed in between gets the same events again later: their bodies land as
duplicates, nothing twice. An order whose get-order failed keeps its events uncommitted, so they
come back and it is asked again; a body that does not parse is quarantined, and its events are
committed (asking again would give the same body).
Duplicates and disorder need nothing here: fct_orders keeps the newest version per order.

After a 429 from the feed the tenant's feed is left alone for `[feed] backoff_seconds` (VTEX
recommends a minute), in this process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ordersync import metrics
from ordersync.clock import Clock
from ordersync.config import FeedSettings, SyncSettings
from ordersync.coordination.leases import Fence, LeaseKeeper
from ordersync.errors import (
    BadRecordError,
    ConfigError,
    FeedThrottledError,
    MalformedBodyError,
    NotFoundError,
    OrdersyncError,
    TenantBusyError,
)
from ordersync.land.intake import Intake, Item
from ordersync.land.records import Version, order_id_of, parse_order
from ordersync.outcomes import RoundStatus
from ordersync.sources.vtex import capture_log
from ordersync.sources.vtex.client import client_for
from ordersync.sources.vtex.events_api import MAX_COMMIT, MAX_LOT, EventsApi, FeedEvent, feed_pacer_key
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import FEED_SOURCE, platform
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync.feed")

FEED = FEED_SOURCE  # the lease stream, and the landing source
MAX_LOTS = 100  # lots read per round: 1,000 events, a few seconds at the feed's pace
_UNREADABLE = "feed event without orderId"


@dataclass
class FeedRound:
    """What one round did for one tenant."""

    tenant: str
    status: RoundStatus = RoundStatus.POLLED
    lots: int = 0
    events: int = 0
    #: distinct orders the events named, each asked for once
    orders: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: orders whose get-order failed: their events come back after the visibility timeout
    unfetched: int = 0
    committed: int = 0
    #: feed calls made (reads and commits), and how many were answered 429
    requests: int = 0
    throttled: int = 0
    #: the round stopped at max_lots with the last lot full: more is waiting, poll again soon
    backlog: bool = False
    #: seconds until the feed is read again (backing off)
    retry_in: float | None = None
    #: how long the oldest change read had waited when the round began (0: none read; None: not read)
    lag_seconds: float | None = None
    #: every call to the store (feed reads and commits, get-order, retries included), and how many
    #: were answered 429
    store_requests: int = 0
    store_throttled: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status.ok

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Backoff:
    """Until when each tenant's feed is left alone, on this process's monotonic clock."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def remaining(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(key, 0.0) - time.monotonic())

    def hold(self, key: str, seconds: float) -> None:
        with self._lock:
            self._until[key] = max(self._until.get(key, 0.0), time.monotonic() + seconds)

    def clear(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)


BACKOFF = _Backoff()


def backoff_key(tenant: Tenant) -> str:
    return f"{feed_pacer_key(tenant.base_url or '')} {tenant.tenant_name}"


def feed_tenants(store: TenantStore, name: str | None = None) -> list[Tenant]:
    """The tenant named (ConfigError saying why it has no feed to poll), or every enabled tenant
    whose change capture is the feed."""
    if name is None:
        return [
            t
            for t in store.list(enabled_only=True)
            if t.change_capture == FEED and FEED in platform(t.platform).captures
        ]
    tenant = store.get(name)
    if FEED not in platform(tenant.platform).captures:
        raise ConfigError(f"tenant {name!r} is on platform {tenant.platform!r}, which has no feed to poll")
    if tenant.change_capture != FEED:
        raise ConfigError(
            f"tenant {name!r} captures changes by {tenant.change_capture}, not the feed; "
            f"run `ordersync feed setup --tenant {name}` first"
        )
    return [tenant]


def _recorded(tenant: Tenant, began: datetime, r: FeedRound) -> capture_log.CaptureRound:
    return capture_log.CaptureRound(
        tenant.tenant_id,
        FEED,
        began,
        r.status,
        r.error,
        events=r.events,
        fetched=r.orders - r.unfetched,
        landed=r.landed,
        quarantined=r.quarantined,
        requests=r.store_requests,
        throttled=r.store_throttled,
        lag_seconds=r.lag_seconds,
        event_at=began if r.events else None,
    )


def _parse(item: Item, tz: ZoneInfo) -> Version:
    if item.value == _UNREADABLE:
        raise BadRecordError("the feed event names no orderId")
    return parse_order(item.raw, tz)


class FeedConsumer:
    def __init__(
        self,
        wh: Warehouse,
        clock: Clock,
        sync: SyncSettings,
        feed: FeedSettings,
        keeper: LeaseKeeper,
        *,
        max_lots: int = MAX_LOTS,
        after_landing: Callable[[Tenant], None] | None = None,
    ) -> None:
        """`after_landing` runs after a round's landing transaction committed and before its
        events are committed (where a crash costs a redelivery)."""
        self.wh = wh
        self.clock = clock
        self.sync = sync
        self.feed = feed
        self.keeper = keeper
        self.max_lots = max_lots
        self.after_landing = after_landing
        self.intake = Intake(wh, clock)

    async def poll_all(self, tenants: Iterable[Tenant]) -> list[FeedRound]:
        """One round per tenant, one after another; a tenant's failure is in its round only."""
        return [await self.poll(t) for t in tenants]

    async def poll(self, tenant: Tenant) -> FeedRound:
        """One round for the tenant; a round that ran (not busy elsewhere, not backing off) is
        recorded (capture_log) and sets this process's feed lag gauge."""
        result = FeedRound(tenant.tenant_name)
        began = time.perf_counter()
        began_at = self.clock.now()
        key = backoff_key(tenant)
        try:
            wait = BACKOFF.remaining(key)
            if wait > 0:
                result.status, result.retry_in = RoundStatus.BACKING_OFF, round(wait, 3)
                return result
            async with self.keeper.hold(tenant.tenant_id, tenant.tenant_name, FEED) as lease:
                await self._round(tenant, Fence(lease, self.wh), result)
        except TenantBusyError as exc:
            result.status, result.error = RoundStatus.BUSY, str(exc)
        except FeedThrottledError as exc:
            seconds = exc.retry_after or self.feed.backoff_seconds
            BACKOFF.hold(key, seconds)
            result.status, result.retry_in, result.error = RoundStatus.THROTTLED, seconds, str(exc)
        except OrdersyncError as exc:
            result.status, result.error = RoundStatus.FAILED, str(exc)
        finally:
            result.seconds = round(time.perf_counter() - began, 3)
        if result.error:
            log.warning("feed of %s: %s: %s", tenant.tenant_name, result.status, result.error)
        if result.status not in (RoundStatus.BUSY, RoundStatus.BACKING_OFF):
            await asyncio.to_thread(capture_log.record, self.wh, _recorded(tenant, began_at, result))
            if result.lag_seconds is not None:
                metrics.feed_lag(tenant.tenant_name, result.lag_seconds)
        return result

    async def _round(self, tenant: Tenant, fence: Fence, result: FeedRound) -> None:
        api = EventsApi(tenant, self.sync, self.feed)
        try:
            async with api:
                await self._consume(api, tenant, fence, result)
        finally:
            result.requests, result.throttled = api.stats.requests, api.stats.throttled
            result.store_requests += api.stats.requests + api.stats.http.retries
            result.store_throttled += api.stats.http.throttled

    async def _consume(self, api: EventsApi, tenant: Tenant, fence: Fence, result: FeedRound) -> None:
        began_at = self.clock.now()
        events = await self._read(api, result)
        changed = [e.changed_at for e in events if e.changed_at is not None]
        result.lag_seconds = round(max(0.0, (began_at - min(changed)).total_seconds()), 3) if changed else 0.0
        handles: dict[str, list[str]] = {}  # order id -> the handles of its events
        unreadable: list[FeedEvent] = []
        for event in events:
            if event.handle is None:  # nothing can commit it; VTEX drops it after the retention period
                log.warning("feed of %s: an event without a handle: %r", tenant.tenant_name, event.raw[:200])
            elif event.order_id is None:
                unreadable.append(event)
            else:
                handles.setdefault(event.order_id, []).append(event.handle)
        result.orders = len(handles)
        if not handles and not unreadable:
            return
        bodies, error = await self._fetch(tenant, list(handles), result)
        items = [Item(e.raw, value=_UNREADABLE) for e in unreadable]
        settled: list[str] = []  # orders landed, found already landed, or quarantined
        for order_id, got in bodies.items():
            if isinstance(got, bytes):
                items.append(Item(got))
            elif isinstance(got, MalformedBodyError) and got.body is not None:
                items.append(Item(got.body, where=f"get order {order_id}"))
            else:
                continue
            settled.append(order_id)
        result.unfetched = len(handles) - len(settled)
        if error is not None:
            result.status = RoundStatus.PARTIAL if settled else RoundStatus.FAILED
            result.error = (
                f"get order failed for {result.unfetched} of {len(handles)} orders ({error}); "
                "their events come back after the visibility timeout"
            )
        if items:
            batch = await asyncio.to_thread(
                self.intake.land_items,
                tenant.tenant_id,
                tenant.tz,
                items,
                FEED,
                f"feed-{uuid.uuid4().hex[:12]}",
                parse=_parse,
                order_id_of=order_id_of,
                fence=fence,
            )
            result.landed, result.duplicates, result.quarantined = batch.landed, batch.duplicates, batch.quarantined
        if self.after_landing is not None:
            self.after_landing(tenant)
        done = [h for order_id in settled for h in handles[order_id]] + [e.handle for e in unreadable if e.handle]
        for start in range(0, len(done), MAX_COMMIT):
            chunk = done[start : start + MAX_COMMIT]
            await api.commit(chunk)
            result.committed += len(chunk)

    async def _read(self, api: EventsApi, result: FeedRound) -> list[FeedEvent]:
        """Lots while they come back full, at most max_lots of them."""
        events: list[FeedEvent] = []
        while result.lots < self.max_lots:
            lot = await api.read_feed(MAX_LOT)
            result.lots += 1
            events.extend(lot)
            if len(lot) < MAX_LOT:
                break
        else:
            result.backlog = True
        result.events = len(events)
        return events

    async def _fetch(
        self, tenant: Tenant, order_ids: list[str], result: FeedRound
    ) -> tuple[dict[str, bytes | Exception], OrdersyncError | None]:
        """Each order's body (or its NotFoundError / MalformedBodyError). An error that stops the
        fetch (the store down, the credentials refused) leaves the orders not yet fetched out, and
        comes back second."""
        bodies: dict[str, bytes | Exception] = {}
        if not order_ids:
            return bodies, None
        try:
            client = client_for(tenant, self.sync)
            try:
                async with client:
                    async for order_id, got in client.get_orders(order_ids):
                        bodies[order_id] = got
            finally:
                result.store_requests += client.stats.get_calls + client.stats.retries
                result.store_throttled += client.stats.throttled
        except OrdersyncError as exc:
            return bodies, exc
        for order_id, got in bodies.items():
            if isinstance(got, NotFoundError):
                log.info("feed of %s: order %s: %s", tenant.tenant_name, order_id, got)
        return bodies, None
