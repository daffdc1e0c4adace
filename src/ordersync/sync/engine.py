"""The sync engine: one run for one tenant, from the list windows to landed versions.

Per chunk of a window: list every order in it, look up what is already landed for those orders,
fetch (get-order) only the ones that are new or whose list entry shows a change, land the new
versions in batches, and advance the chunk's checkpoint in the same transaction as its last batch.
A run killed anywhere therefore resumes with nothing lost (the checkpoint never passes unlanded
data) and nothing doubled (versions already landed are recognised and skipped).
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from ordersync.clock import Clock
from ordersync.config import SyncSettings
from ordersync.console import Reporter, SilentReporter
from ordersync.coordination.leases import Fence, NoFence
from ordersync.errors import BadRecordError, ConfigError, MalformedBodyError, NotFoundError, TransientSourceError
from ordersync.land import Lander, Version, parse_order
from ordersync.outcomes import RunStatus
from ordersync.sources.vtex.client import client_for
from ordersync.sources.vtex.listing import Known, ListEntry, needs_fetch
from ordersync.sources.vtex.oms import VtexClient
from ordersync.sync import checkpoints, reconcile, runs
from ordersync.sync.reconcile import DayCheck
from ordersync.sync.runs import RunCounters
from ordersync.sync.windows import HISTORY_UNTIL, Window, go_live_start, history, plan
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import PULL_SOURCE
from ordersync.warehouse import Warehouse

T = TypeVar("T")
log = logging.getLogger("ordersync.sync")
# Checkpoint granularity: a window is read in slices of this size (a 3-day trailing window is one).
CHUNK = timedelta(days=4)
SOURCE = PULL_SOURCE


@dataclass
class _ChunkState:
    """What one chunk has fetched but not yet landed, and the landing in flight."""

    batch: list[tuple[Version, bool]] = field(default_factory=list)
    bad: list[tuple[str | None, bytes | str, str]] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    landing: asyncio.Task[None] | None = None
    #: the batch's versions were checked against what had landed up to this landing_id; anything
    #: landed after it (by writers without the lease: files, pushes) is checked again when landing
    batch_after: int | None = None
    lookup_after: int = 0


@dataclass
class SyncOutcome:
    run_id: str
    tenant_id: int
    tenant_name: str
    mode: str
    status: RunStatus
    seconds: float
    counters: RunCounters
    error: str | None = None
    exception: Exception | None = None


class TenantSync:
    def __init__(
        self,
        wh: Warehouse,
        tenant: Tenant,
        settings: SyncSettings,
        clock: Clock,
        run_id: str,
        mode: str = "incremental",
        reporter: Reporter | None = None,
        worker_id: str | None = None,
        historical_batches: int | None = None,
        attempt: int = 1,
        fence: Fence | None = None,
    ) -> None:
        self.wh = wh
        self.fence: Fence = fence or NoFence()
        self.tenant = tenant
        self.settings = settings
        self.clock = clock
        self.run_id = run_id
        self.mode = mode
        self.reporter = reporter or SilentReporter()
        self.worker_id = worker_id
        self.historical_batches = historical_batches
        self.attempt = attempt
        self.lander = Lander(wh, clock)
        self.counters = RunCounters()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        # Warehouse calls block; run them off the event loop so requests keep flowing meanwhile.
        return await asyncio.to_thread(fn, *args)

    def _client(self) -> VtexClient:
        return client_for(self.tenant, self.settings)

    async def run(self) -> SyncOutcome:
        began = monotonic.perf_counter()
        now = self.clock.now()
        tid = self.tenant.tenant_id
        ckpts = await self._db(checkpoints.load, self.wh, tid)
        windows = plan(self.mode, self.tenant, ckpts, now, self.settings, historical_batches=self.historical_batches)
        first_run = "creation" not in ckpts
        if self.mode == "historical" and first_run:
            raise ConfigError(
                f"tenant {self.tenant.tenant_name} has no incremental sync yet; run one first "
                "(history is filled back from where the first incremental started)"
            )
        span = (min(w.start for w in windows), max(w.end for w in windows)) if windows else None
        await self._db(
            runs.start, self.wh, self.run_id, tid, self.mode, now, self.worker_id, span, self.attempt, self.fence.token
        )
        # every line about the run names its tenant and run (JSON logs: the `tenant` and `run_id` keys)
        context = {"tenant": self.tenant.tenant_name, "run_id": self.run_id}
        log.info("%s sync of %s started (attempt %d)", self.mode, self.tenant.tenant_name, self.attempt, extra=context)
        client: VtexClient | None = None
        try:
            # inside the try: a tenant whose credentials cannot be read gets a failed run, not one
            # left running until its lease is next taken
            client = self._client()
            async with client:
                open_days = await self._reconcile_before(client, windows) if self.mode == "full" else []
                for window in windows:
                    await self._sync_window(client, window)
                if open_days:
                    await self._db(self._reconcile_after, open_days)
            self._take_stats(client)
            await self._db(self._finish_ok, now, windows, first_run)
        except BaseException as exc:
            if client is not None:
                self._take_stats(client)
            message = str(exc) or type(exc).__name__
            failed = RunStatus.FAILED
            await self._db(runs.finish, self.wh, self.run_id, failed, self.clock.now(), self.counters, message)
            log.warning("%s sync of %s failed: %s", self.mode, self.tenant.tenant_name, message, extra=context)
            raise
        c = self.counters
        log.info(
            "%s sync of %s succeeded: %d orders listed, %d fetched, %d versions landed, %d quarantined",
            self.mode,
            self.tenant.tenant_name,
            c.orders_listed,
            c.orders_fetched,
            c.versions_landed,
            c.quarantined,
            extra=context,
        )
        return SyncOutcome(
            self.run_id,
            tid,
            self.tenant.tenant_name,
            self.mode,
            RunStatus.SUCCEEDED,
            monotonic.perf_counter() - began,
            self.counters,
        )

    async def _reconcile_before(self, client: VtexClient, windows: list[Window]) -> list[DayCheck]:
        """Compare each complete day of the full window with the source; record what differs."""
        if not windows:
            return []
        tz = self.tenant.tz
        days = reconcile.complete_days(windows[0].end, self.settings.full_days - 1, tz)
        live = self.tenant.go_live_date
        days = [d for d in days if live is None or d >= live]  # nothing before go-live is synced
        if not days:
            return []
        source = await reconcile.source_days(client, tz, days)
        held = await self._db(reconcile.warehouse_days, self.wh, self.tenant.tenant_id, days[0], days[-1])
        checks = reconcile.compare(source, held)
        open_days = [c for c in checks if not c.matches]
        await self._db(self._record_discrepancies, open_days, checks)
        self.counters.discrepancies = len(open_days)
        self.counters.discrepancies_fixed = 0
        return open_days

    def _record_discrepancies(self, open_days: list[DayCheck], checks: list[DayCheck]) -> None:
        tid, now = self.tenant.tenant_id, self.clock.now()
        with self.wh.transaction():
            reconcile.close_matching(self.wh, tid, self.run_id, checks, now)
            reconcile.record(self.wh, tid, self.run_id, open_days, now)

    def _reconcile_after(self, open_days: list[DayCheck]) -> None:
        """After landing what was missing, check the same days again and mark the fixed ones."""
        days = [c.day for c in open_days]
        held = reconcile.warehouse_days(self.wh, self.tenant.tenant_id, min(days), max(days))
        after = reconcile.compare({c.day: c.source for c in open_days}, held)
        with self.wh.transaction():
            reconcile.record_after(self.wh, self.run_id, after, self.clock.now())
        self.counters.discrepancies_fixed = sum(1 for c in after if c.matches)

    def _take_stats(self, client: VtexClient) -> None:
        stats = client.stats
        self.counters.list_calls = stats.list_calls
        self.counters.get_calls = stats.get_calls
        self.counters.retries = stats.retries
        self.counters.throttled = stats.throttled
        self.counters.throttle_wait_seconds = round(stats.throttle_wait_seconds, 3)
        self.counters.pace_wait_seconds = round(stats.pace_wait_seconds, 3)

    def _finish_ok(self, now: datetime, windows: list[Window], first_run: bool) -> None:
        tid = self.tenant.tenant_id
        store = TenantStore(self.wh)
        with self.fence.transaction(self.wh):
            if first_run and self.mode == "incremental" and windows:
                # Changes to what this run read are caught from here on by these streams.
                for stream in ("authorized", "invoiced"):
                    checkpoints.advance(self.wh, tid, stream, windows[0].end, self.run_id, now)
                live = go_live_start(self.tenant)
                if live is not None and live < windows[0].start:
                    checkpoints.advance(self.wh, tid, HISTORY_UNTIL, windows[0].start, self.run_id, now)
            if self.mode != "historical":
                store.mark_synced(tid, now)
            ckpts = checkpoints.load(self.wh, tid)
            if "creation" in ckpts and not history(self.tenant, ckpts, self.settings.historical_direction).pending:
                store.mark_initial_sync_completed(tid)
            runs.finish(self.wh, self.run_id, RunStatus.SUCCEEDED, self.clock.now(), self.counters)
        # Discrepancies this run (or any before it) made good are closed.
        reconcile.close_fixed(self.wh, tid, self.run_id, self.clock.now())

    async def _sync_window(self, client: VtexClient, window: Window) -> None:
        chunks = window.chunks(CHUNK)
        task = self.reporter.task(f"{self.tenant.tenant_name}: {window.stream} dates", total=len(chunks))
        try:
            for chunk in chunks:
                await self._sync_chunk(client, window, chunk)
                task.advance()
        finally:
            task.close()

    async def _sync_chunk(self, client: VtexClient, window: Window, chunk: tuple[datetime, datetime]) -> None:
        """List the chunk and, every `lookup_batch` listed orders, look up what is landed and fetch what
        changed, so memory follows the batch, not the chunk; the checkpoint lands with the last batch."""
        start, end = chunk
        state = _ChunkState()
        listed: dict[str, ListEntry] = {}
        try:
            async for page in client.list_window(window.field, start, end):  # type: ignore[arg-type]
                for entry in page:
                    listed[entry.order_id] = entry
                if len(listed) >= self.settings.lookup_batch:
                    await self._fetch_changed(client, listed, state)
                    listed = {}
            await self._fetch_changed(client, listed, state)
            if state.transient:
                # Land what came through, but keep the checkpoint where it is so the next run retries these.
                await self._flush(state, None)
                raise TransientSourceError(
                    f"{len(state.transient)} orders could not be fetched after retries (first: "
                    f"{state.transient[0]}); the rest landed and the next run retries them"
                )
            await self._flush(state, (window, window.checkpoint_after(chunk)))
        finally:
            if state.landing is not None:
                await asyncio.shield(state.landing)  # a thread cannot be cancelled: let its commit finish

    async def _fetch_changed(self, client: VtexClient, listed: dict[str, ListEntry], state: _ChunkState) -> None:
        if not listed:
            return
        self.counters.orders_listed += len(listed)
        tz = self.tenant.tz
        days = [e.creation_date.astimezone(tz).date() for e in listed.values()]
        if state.landing is not None:
            await state.landing  # one call at a time on the warehouse connection
        # Read before the lookup: whatever lands after this is checked again when the batch lands.
        state.lookup_after = await self._db(self.wh.max_landing_id)
        known = await self._db(self._known, list(listed), min(days), max(days))
        to_fetch = [oid for oid, e in listed.items() if needs_fetch(e, known.get(oid))]
        async for order_id, body in client.fetch_orders(to_fetch):
            self.counters.orders_fetched += 1
            if isinstance(body, NotFoundError):
                state.bad.append((order_id, order_id, f"get-order found no order {order_id} that the list showed"))
                continue
            if isinstance(body, MalformedBodyError):
                # Broken on every retry: a poison record. Quarantined with its bytes, the run goes on.
                raw = body.body if body.body is not None else order_id
                state.bad.append((order_id, raw, f"get-order body stayed malformed: {body}"))
                continue
            if isinstance(body, TransientSourceError):
                state.transient.append(f"{order_id}: {body}")
                continue
            if isinstance(body, Exception):
                state.bad.append((order_id, order_id, f"get-order failed: {body}"))
                continue
            try:
                version = parse_order(body.raw, tz, body.head)
            except BadRecordError as exc:
                state.bad.append((order_id, body.raw, str(exc)))
                continue
            if version.order_id != order_id:
                # landing it would write another order's row from a body nobody asked that order for
                reason = f"get-order for {order_id} answered with the body of order {version.order_id!r}"
                state.bad.append((order_id, body.raw, reason))
                continue
            k = known.get(version.order_id)
            if k is not None and version.payload_hash in k.hashes:
                continue
            if not state.batch:
                state.batch_after = state.lookup_after
            state.batch.append((version, k is not None))
            if len(state.batch) >= self.settings.batch_size:
                await self._flush(state, None)

    async def _flush(self, state: _ChunkState, checkpoint: tuple[Window, datetime] | None) -> None:
        """Hand the batch to the landing thread; one lands while the next is fetched, in order."""
        if state.landing is not None:
            await state.landing
        after = state.lookup_after if state.batch_after is None else state.batch_after
        state.landing = asyncio.create_task(self._db(self._land, state.batch, state.bad, checkpoint, after))
        state.batch, state.bad, state.batch_after = [], [], None

    def _known(self, order_ids: list[str], first_day: date, last_day: date) -> dict[str, Known]:
        # order_date bounds let both warehouses skip most of the history.
        rows = self.wh.query(
            "SELECT order_id, event_time, status, total_value, payload_hash FROM cdp.orders_landing "
            "WHERE tenant_id = ? AND order_date BETWEEN ? AND ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
            (
                self.tenant.tenant_id,
                first_day - timedelta(days=1),
                last_day + timedelta(days=1),
                order_ids,
            ),
        )
        known: dict[str, Known] = {}
        for order_id, event_time, status, total_value, phash in rows:
            k = known.get(order_id)
            if k is None:
                k = known[order_id] = Known(event_time, status, total_value)
            elif event_time > k.event_time:
                k.event_time, k.status, k.total_value = event_time, status, total_value
            k.hashes.add(phash)
        return known

    def _land(
        self,
        batch: list[tuple[Version, bool]],
        bad: list[tuple[str | None, bytes | str, str]],
        checkpoint: tuple[Window, datetime] | None,
        checked_after: int,
    ) -> None:
        tid = self.tenant.tenant_id
        with self.fence.transaction(self.wh):
            stored = sum(
                self.lander.quarantine(tid, raw, reason, SOURCE, self.run_id, order_id, once=True)
                for order_id, raw, reason in bad
            )
            # `known` excluded every version landed up to `checked_after`; only what writers without
            # the lease (files, pushes) landed since then needs checking again.
            landed = self.lander.land(
                tid, [v for v, _ in batch], SOURCE, self.run_id, known_new=True, checked_after=checked_after
            )
            if checkpoint is not None:
                window, position = checkpoint
                checkpoints.advance(
                    self.wh,
                    tid,
                    window.stream,
                    position,
                    self.run_id,
                    self.clock.now(),
                    backward=window.backward,
                )
        self.counters.versions_landed += landed
        self.counters.late_versions += sum(1 for _, was_known in batch if was_known)
        self.counters.quarantined += stored
