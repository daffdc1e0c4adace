"""The worker loop: every tick, decide per tenant what is due and run it, many tenants at once.

Within a tick, incrementals and full syncs run first; historical batches run after all of them
(lower priority). Each job holds the tenant's lease, retries transient failures with backoff, and
leaves every attempt in the run log. Nothing ends the loop but a stop: an error outside a tenant's
sync (a failed build, a lost connection, an unreachable clock, a migration conflict) is logged, the
build log records builds, connections are reopened, and the next tick runs as usual.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ordersync.coordination.leases import holder_name
from ordersync.errors import TransformError
from ordersync.facade import Ordersync
from ordersync.outcomes import BuildStatus, RunStatus
from ordersync.secrets import scrub
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.jobs import Job, JobPolicy
from ordersync.sync.windows import history
from ordersync.tenants import Tenant
from ordersync.worker.feed_loop import FeedLoop
from ordersync.worker.schedule import Due, ScheduleSettings, due, incremental_due

log = logging.getLogger("ordersync.worker")


def default_worker_id() -> str:
    return holder_name(f"worker-{uuid.uuid4().hex[:6]}")


@dataclass
class TickReport:
    at: datetime
    due: dict[str, Due] = field(default_factory=dict)
    outcomes: list[SyncOutcome] = field(default_factory=list)
    skipped_leased: list[str] = field(default_factory=list)
    built: bool = False
    build_error: str | None = None
    #: revision notices delivered at the end of the tick
    notices_delivered: int = 0

    @property
    def landed(self) -> int:
        return sum(o.counters.versions_landed for o in self.outcomes)


class Worker:
    def __init__(
        self, app: Ordersync, schedule: ScheduleSettings, worker_id: str | None = None, *, notices: bool = True
    ) -> None:
        self.app = app
        self.schedule = schedule
        #: deliver revision notices at the end of each tick (ordersync serve delivers them itself)
        self.notices = notices
        self.worker_id = worker_id or app.worker_id or default_worker_id()
        app.worker_id = self.worker_id
        # run() polls the VTEX feeds in a thread of their own; on DuckDB that thread and the tick
        # share the facade, taking turns on this lock
        self._lock = threading.Lock()
        self._feed_landed = threading.Event()

    # -- what is due ---------------------------------------------------------------------------
    def plan_tick(self, now: datetime) -> list[tuple[Tenant, Due]]:
        # push-only stores have no pull API: nothing to schedule for them here
        tenants = self.app.pull_tenants()
        past = self.app.pull_history()
        direction = self.app.settings.sync.historical_direction
        out: list[tuple[Tenant, Due]] = []
        for t in tenants:
            pending = history(t, past.checkpoints.get(t.tenant_id, {}), direction).pending
            d = due(
                t,
                now,
                last_full=past.last_full.get(t.tenant_id),
                first_sync=past.first_sync.get(t.tenant_id),
                historical_pending=pending,
                s=self.schedule,
            )
            out.append((t, d))
        return out

    # -- one tick -------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One tick. Raises what went wrong outside the tenants' syncs (run() survives it)."""
        now = self.app.clock.now()
        self.app.upgrade()
        plan = self.plan_tick(now)
        report = TickReport(now, {t.tenant_name: d for t, d in plan})
        policy = JobPolicy(
            concurrency=self.schedule.concurrency,
            attempts=self.schedule.attempts,
            backoff_seconds=self.schedule.retry_backoff_seconds,
        )
        primary = [
            Job(t, m, None, self._still_due(m, t, now))
            for t, d in plan
            if d.full or d.incremental
            for m in ["full" if d.full else "incremental"]
        ]
        self._collect(report, self.app.run_jobs(primary, policy))
        # Lower priority: only after every incremental of this tick, and only for tenants whose
        # incremental (if one was due now) succeeded.
        failed = {o.tenant_id for o in report.outcomes if o.status is RunStatus.FAILED}
        later = [
            Job(t, "historical", 1, self._still_due("historical", t, now))
            for t, d in plan
            if d.historical and t.tenant_id not in failed
        ]
        self._collect(report, self.app.run_jobs(later, policy))
        fed = self._feed_landed.is_set()
        if self.schedule.build_after_tick and (report.landed > 0 or fed or self._build_owed()):
            self._feed_landed.clear()
            try:
                self.app.build(trigger="worker")
                report.built = True
            except TransformError as exc:  # recorded in cdp.build_runs; the next tick builds again
                report.build_error = str(exc)
                log.error("build after the tick failed: %s", exc)
                if fed:
                    self._feed_landed.set()
        if self.notices:
            report.notices_delivered = self._deliver_notices()
        return report

    def _deliver_notices(self) -> int:
        """Every tick, after its build: what the build wrote, and retries that came due. A failure
        here is logged and never fails the tick (the notices wait in the outbox)."""
        try:
            delivered = self.app.deliver_notices().delivered
            if self.app.settings.customers.webhook_url_envs:
                delivered += self.app.deliver_customer_events().delivered
            return delivered
        except Exception as exc:
            log.error(
                "delivering revision notices failed, the next tick retries: %s", scrub(f"{type(exc).__name__}: {exc}")
            )
            return 0

    def _build_owed(self) -> bool:
        """The last build failed or never finished: build again even if nothing new landed."""
        last = self.app.last_build()
        return last is not None and last["status"] != BuildStatus.SUCCEEDED

    @staticmethod
    def _collect(report: TickReport, results: list[list[SyncOutcome]]) -> None:
        for attempts in results:
            for outcome in attempts:
                if outcome.status is RunStatus.BUSY:
                    report.skipped_leased.append(outcome.tenant_name)
                elif outcome.status is not RunStatus.SKIPPED:
                    report.outcomes.append(outcome)

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

    # -- forever -------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, once: bool = False) -> None:
        """Tick every `tick_seconds` of ordersync's clock until stopped (or once). A tick that fails
        outside the tenants' syncs is logged and the loop goes on; after a warehouse error every
        connection is reopened."""
        stop = stop or threading.Event()
        last: datetime | None = None
        feed = None if once else self._feed_thread(stop)
        try:
            while not stop.is_set():
                try:
                    now = self.app.clock.now()
                    if last is None or (now - last).total_seconds() >= self.schedule.tick_seconds:
                        last = now
                        with self._lock:
                            report = self.tick()
                        self._log(now, report)
                        if once:
                            return
                except Exception as exc:
                    with self._lock:
                        self._survive(exc)
                    if once:
                        return
                stop.wait(min(1.0, self.schedule.tick_seconds))
        finally:
            if feed is not None:
                stop.set()  # an interrupt that ends the ticks ends the feed thread too
                feed.join(timeout=60)
            self.app.close_side_connections()

    def _feed_thread(self, stop: threading.Event) -> threading.Thread:
        """The feed poller (the next tick builds what it landed): on PostgreSQL on a facade of its
        own, beside the tick; on DuckDB on this one, taking turns with the tick."""
        app = self.app
        if app.settings.warehouse.is_postgres:
            own = Ordersync(app.settings, clock=app.clock, worker_id=self.worker_id)
            loop = FeedLoop(own, stop, on_landed=self._feed_landed.set, owns_app=True)
        else:
            loop = FeedLoop(app, stop, lock=self._lock, on_landed=self._feed_landed.set)
        thread = loop.thread()
        thread.start()
        return thread

    def _survive(self, exc: Exception) -> None:
        log.error("tick failed, the next tick carries on: %s: %s", type(exc).__name__, exc, exc_info=exc)
        self.app.reconnect()  # cheap, and a connection that failed once is not trusted again

    @staticmethod
    def _log(now: datetime, report: TickReport) -> None:
        log.info(
            "tick at %s: %d runs, %d landed, %d tenants leased elsewhere%s",
            now.isoformat(),
            len(report.outcomes),
            report.landed,
            len(report.skipped_leased),
            f", build failed: {report.build_error}" if report.build_error else "",
        )
        if report.notices_delivered:
            log.info("tick at %s: %d revision notices delivered", now.isoformat(), report.notices_delivered)
