"""The leased tenant run: the pull lease held for the whole run, every write fenced by it, and
whatever happens mapped to an outcome, so one tenant's failure never stops the others; and
`ordersync sync` over several tenants (which ones, then the build after)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ordersync import metrics
from ordersync.clock import Clock
from ordersync.config import SyncSettings
from ordersync.console import Reporter
from ordersync.coordination.leases import Fence, LeaseKeeper
from ordersync.errors import ConfigError, OrdersyncError, TenantBusyError, TransformError
from ordersync.outcomes import RunStatus
from ordersync.sync.engine import SyncOutcome, TenantSync
from ordersync.sync.jobs import Job
from ordersync.sync.windows import MODES
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse


@dataclass
class TenantRunner:
    """Runs one attempt of a sync job (sync/jobs.py's `RunOne`); `leases()` gives this process's
    lease keeper."""

    settings: SyncSettings
    clock: Clock
    reporter: Reporter
    leases: Callable[[], LeaseKeeper]
    worker_id: str | None = None

    async def __call__(
        self,
        tenant: Tenant,
        mode: str,
        *,
        wh: Warehouse,
        historical_batches: int | None = None,
        attempt: int = 1,
        still_due: Callable[[Tenant], bool] | None = None,
    ) -> SyncOutcome:
        """One run for one tenant, holding its pull lease; every write of the run is fenced by it.
        Failures come back as a failed outcome (also in the run log); `outcome.exception` keeps the
        error. A tenant leased by another process, or no longer due once its lease is held
        (`still_due`, given the tenant as it is now), is skipped."""
        run = TenantSync(
            wh,
            tenant,
            self.settings,
            self.clock,
            run_id=uuid.uuid4().hex,
            mode=mode,
            reporter=self.reporter,
            worker_id=self.worker_id,
            historical_batches=historical_batches,
            attempt=attempt,
        )
        began = time.perf_counter()

        def outcome(status: RunStatus, exc: Exception | None) -> SyncOutcome:
            return SyncOutcome(
                run.run_id,
                tenant.tenant_id,
                tenant.tenant_name,
                mode,
                status,
                time.perf_counter() - began,
                run.counters,
                None if exc is None else str(exc),
                exc,
            )

        keeper = await asyncio.to_thread(self.leases)
        try:
            async with keeper.hold(tenant.tenant_id, tenant.tenant_name) as lease:
                run.fence = Fence(lease, wh)
                if still_due is not None:
                    now = await asyncio.to_thread(TenantStore(wh).by_id, tenant.tenant_id)
                    if not still_due(now):
                        return outcome(RunStatus.SKIPPED, None)
                    run.tenant = now
                done = await run.run()
        except TenantBusyError as exc:
            return outcome(RunStatus.BUSY, exc)
        except OrdersyncError as exc:
            done = outcome(RunStatus.FAILED, exc)
        metrics.run_finished(mode, done.status, done.seconds)
        return done


@dataclass
class SyncReport:
    outcomes: list[SyncOutcome] = field(default_factory=list)
    build_seconds: float | None = None
    build_error: str | None = None
    #: attempts made in all (retries of transient failures included)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.build_error is None and all(o.status.ok for o in self.outcomes)

    @property
    def failures(self) -> list[SyncOutcome]:
        return [o for o in self.outcomes if not o.status.ok]


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown sync mode {mode!r}; use one of: {', '.join(MODES)}")


def pull_targets(store: TenantStore, names: Iterable[str] | None = None) -> list[Tenant]:
    """The tenants named (each must have a pull API), or every enabled one that has one."""
    names = list(names or [])
    if not names:
        return [t for t in store.list(enabled_only=True) if t.pulls]
    targets = [store.get(n) for n in names]
    for t in targets:
        if not t.pulls:
            raise ConfigError(
                f"tenant {t.tenant_name!r} has no pull API to sync (platform {t.platform}); "
                "its orders arrive by push (ordersync serve) or by ordersync ingest"
            )
    return targets


def sync_tenants(
    targets: list[Tenant],
    mode: str,
    run: Callable[[list[Job]], list[list[SyncOutcome]]],
    build: Callable[[], object] | None,
) -> SyncReport:
    """Run one job per tenant through `run` (sync/jobs.py), then `build` when given and any tenant
    was synced; a failed build is reported, never raised."""
    report = SyncReport()
    for attempts in run([Job(t, mode) for t in targets]):
        report.outcomes.append(attempts[-1])
        report.attempts += len(attempts)
    if build is not None and targets:
        began = time.perf_counter()
        try:
            build()
        except TransformError as exc:
            report.build_error = str(exc)
        report.build_seconds = time.perf_counter() - began
    return report
