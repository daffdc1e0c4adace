"""The worker loop: every tick, decide per tenant what is due and run it, many tenants at once.

Within a tick, incrementals and full syncs run first; historical batches run after all of them
(lower priority). Each job holds the tenant's lease, retries transient failures with backoff, and
leaves every attempt in the run log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from ordersync.errors import TransientSourceError, WarehouseError
from ordersync.facade import Ordersync, run_async
from ordersync.sync import checkpoints
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.windows import history
from ordersync.tenants import Tenant
from ordersync.worker.leases import LeaseKeeper
from ordersync.worker.schedule import Due, ScheduleSettings, due

log = logging.getLogger("ordersync.worker")

RETRYABLE = (TransientSourceError, WarehouseError)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    at: datetime
    due: dict[str, Due] = field(default_factory=dict)
    outcomes: list[SyncOutcome] = field(default_factory=list)
    skipped_leased: list[str] = field(default_factory=list)
    built: bool = False

    @property
    def landed(self) -> int:
        return sum(o.counters.versions_landed for o in self.outcomes)


class Worker:
    def __init__(self, app: Ordersync, schedule: ScheduleSettings, worker_id: str | None = None) -> None:
        self.app = app
        self.schedule = schedule
        self.worker_id = worker_id or app.worker_id or default_worker_id()
        app.worker_id = self.worker_id
        self._leases: LeaseKeeper | None = None

    # -- what is due ---------------------------------------------------------------------------
    def plan_tick(self, now: datetime) -> list[tuple[Tenant, Due]]:
        wh = self.app.wh
        tenants = self.app.tenants.list(enabled_only=True)
        last_full = dict(
            wh.query(
                "SELECT tenant_id, max(started_at) FROM cdp.sync_runs "
                "WHERE mode = 'full' AND status = 'succeeded' GROUP BY tenant_id"
            )
        )
        first_sync = dict(
            wh.query(
                "SELECT tenant_id, min(started_at) FROM cdp.sync_runs "
                "WHERE mode = 'incremental' AND status = 'succeeded' GROUP BY tenant_id"
            )
        )
        ckpts: dict[int, dict[str, datetime]] = {}
        for tid, stream, pos in wh.query("SELECT tenant_id, stream, position FROM cdp.sync_checkpoints"):
            ckpts.setdefault(tid, {})[stream] = pos
        direction = self.app.settings.sync.historical_direction
        out: list[tuple[Tenant, Due]] = []
        for t in tenants:
            pending = history(t, ckpts.get(t.tenant_id, {}), direction).pending
            d = due(
                t,
                now,
                last_full=last_full.get(t.tenant_id),
                first_sync=first_sync.get(t.tenant_id),
                historical_pending=pending,
                s=self.schedule,
            )
            out.append((t, d))
        return out

    # -- one tick -------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        try:
            report = run_async(self._tick())
        finally:
            if not self.app.wh.concurrent_writers:
                self._close_keeper()  # DuckDB: dbt must be the only one with the file open
        if self.schedule.build_after_tick and report.landed > 0:
            self.app.build()
            report.built = True
        return report

    async def _tick(self) -> TickReport:
        now = self.app.clock.now()
        plan = await asyncio.to_thread(self.plan_tick, now)
        report = TickReport(now, {t.tenant_name: d for t, d in plan})
        if not any(d.any for _, d in plan):
            return report
        keeper = self._keeper()
        sem = asyncio.Semaphore(self.schedule.concurrency)
        heartbeat = asyncio.create_task(self._heartbeat(keeper))
        try:
            primary = [(t, "full" if d.full else "incremental") for t, d in plan if d.full or d.incremental]
            for outcome in await asyncio.gather(*(self._job(keeper, sem, t, m, report) for t, m in primary)):
                report.outcomes.extend(outcome)
            # Lower priority: only after every incremental of this tick, and only for tenants whose
            # incremental (if due now) succeeded.
            failed = {o.tenant_id for o in report.outcomes if o.status != "succeeded"}
            later = [(t, "historical") for t, d in plan if d.historical and t.tenant_id not in failed]
            for outcome in await asyncio.gather(*(self._job(keeper, sem, t, m, report) for t, m in later)):
                report.outcomes.extend(outcome)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        return report

    def _keeper(self) -> LeaseKeeper:
        if self._leases is None:
            self._leases = LeaseKeeper(self.app.wh.fork(), self.worker_id, self.schedule.lease_seconds)
        return self._leases

    async def _heartbeat(self, keeper: LeaseKeeper) -> None:
        while True:
            await asyncio.sleep(self.schedule.lease_seconds / 3)
            lost = await asyncio.to_thread(keeper.renew)
            for tid in lost:
                log.warning("worker %s lost the lease on tenant %s", self.worker_id, tid)

    async def _job(
        self, keeper: LeaseKeeper, sem: asyncio.Semaphore, tenant: Tenant, mode: str, report: TickReport
    ) -> list[SyncOutcome]:
        async with sem:
            if not await asyncio.to_thread(keeper.acquire, tenant.tenant_id):
                report.skipped_leased.append(tenant.tenant_name)
                return []
            wh = await asyncio.to_thread(self.app.wh.fork)
            outcomes: list[SyncOutcome] = []
            try:
                # Re-read the tenant under the lease: another worker may have just synced it.
                fresh = await asyncio.to_thread(lambda: type(self.app.tenants)(wh).by_id(tenant.tenant_id))
                if mode == "incremental" and fresh.last_sync_at != tenant.last_sync_at:
                    return []
                for attempt in range(1, self.schedule.attempts + 1):
                    outcome = await self.app.sync_tenant(
                        fresh,
                        mode,
                        wh=wh,
                        historical_batches=1 if mode == "historical" else None,
                        attempt=attempt,
                    )
                    outcomes.append(outcome)
                    if outcome.status == "succeeded" or not isinstance(outcome.exception, RETRYABLE):
                        break
                    await asyncio.sleep(self.schedule.retry_backoff_seconds * 2 ** (attempt - 1))
            except Exception:  # one tenant's failure never stops the others; the run log has it
                log.exception("tenant %s: %s sync crashed", tenant.tenant_name, mode)
            finally:
                await asyncio.to_thread(keeper.release, tenant.tenant_id)
                await asyncio.to_thread(wh.close)
            return outcomes

    # -- forever -------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, once: bool = False) -> None:
        """Tick every `tick_seconds` of ordersync's clock until stopped (or once)."""
        stop = stop or threading.Event()
        last: datetime | None = None
        try:
            while not stop.is_set():
                now = self.app.clock.now()
                if last is None or (now - last).total_seconds() >= self.schedule.tick_seconds:
                    last = now
                    report = self.tick()
                    log.info(
                        "tick at %s: %d runs, %d landed, %d tenants leased elsewhere",
                        now.isoformat(), len(report.outcomes), report.landed, len(report.skipped_leased),
                    )
                    if once:
                        return
                stop.wait(min(1.0, self.schedule.tick_seconds))
        finally:
            self._close_keeper()

    def _close_keeper(self) -> None:
        if self._leases is not None:
            self._leases.release_all()
            self._leases.wh.close()
            self._leases = None
