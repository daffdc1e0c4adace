"""The worker loop: every tick, decide per tenant what is due and run it, many tenants at once.

Within a tick, incrementals and full syncs run first; historical batches run after all of them
(lower priority). Each job holds the tenant's lease, retries transient failures with backoff, and
leaves every attempt in the run log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ordersync.errors import TransientSourceError, WarehouseError
from ordersync.facade import Ordersync, run_async
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.leases import holder_name
from ordersync.sync.windows import history
from ordersync.tenants import Tenant
from ordersync.worker.schedule import Due, ScheduleSettings, due, incremental_due

log = logging.getLogger("ordersync.worker")

RETRYABLE = (TransientSourceError, WarehouseError)


def default_worker_id() -> str:
    return holder_name(f"worker-{uuid.uuid4().hex[:6]}")


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
                self.app.close_side_connections()  # DuckDB: dbt must be alone with the file
        if self.schedule.build_after_tick and report.landed > 0:
            self.app.build()
            report.built = True
        return report

    async def _tick(self) -> TickReport:
        now = self.app.clock.now()
        plan = await asyncio.to_thread(self.plan_tick, now)
        report = TickReport(now, {t.tenant_name: d for t, d in plan})
        sem = asyncio.Semaphore(self.schedule.concurrency)
        primary = [(t, "full" if d.full else "incremental") for t, d in plan if d.full or d.incremental]
        for outcomes in await asyncio.gather(*(self._job(sem, t, m, now, report) for t, m in primary)):
            report.outcomes.extend(outcomes)
        # Lower priority: only after every incremental of this tick, and only for tenants whose
        # incremental (if one was due now) succeeded.
        failed = {o.tenant_id for o in report.outcomes if o.status == "failed"}
        later = [(t, "historical") for t, d in plan if d.historical and t.tenant_id not in failed]
        for outcomes in await asyncio.gather(*(self._job(sem, t, m, now, report) for t, m in later)):
            report.outcomes.extend(outcomes)
        return report

    def _still_due(self, mode: str, planned: Tenant, now: datetime) -> Callable[[Tenant], bool]:
        """Under the lease, check again: another worker may have synced the tenant meanwhile."""

        def check(current: Tenant) -> bool:
            if not (current.sync_enabled and current.is_active):
                return False
            if mode == "incremental":
                return incremental_due(current, now)
            if mode == "full":
                return current.last_sync_at == planned.last_sync_at
            return True

        return check

    async def _job(
        self, sem: asyncio.Semaphore, tenant: Tenant, mode: str, now: datetime, report: TickReport
    ) -> list[SyncOutcome]:
        async with sem:
            wh = await asyncio.to_thread(self.app.wh.fork)
            outcomes: list[SyncOutcome] = []
            try:
                for attempt in range(1, self.schedule.attempts + 1):
                    outcome = await self.app.sync_tenant(
                        tenant,
                        mode,
                        wh=wh,
                        historical_batches=1 if mode == "historical" else None,
                        attempt=attempt,
                        still_due=self._still_due(mode, tenant, now),
                    )
                    if outcome.status == "busy":
                        report.skipped_leased.append(tenant.tenant_name)
                    if outcome.status in ("busy", "skipped"):
                        break
                    outcomes.append(outcome)
                    if outcome.status == "succeeded" or not isinstance(outcome.exception, RETRYABLE):
                        break
                    await asyncio.sleep(self.schedule.retry_backoff_seconds * 2 ** (attempt - 1))
            except Exception:  # one tenant's failure never stops the others; the run log has it
                log.exception("tenant %s: %s sync crashed", tenant.tenant_name, mode)
            finally:
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
                        now.isoformat(),
                        len(report.outcomes),
                        report.landed,
                        len(report.skipped_leased),
                    )
                    if once:
                        return
                stop.wait(min(1.0, self.schedule.tick_seconds))
        finally:
            self.app.close_side_connections()
