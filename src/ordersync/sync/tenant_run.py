"""One leased run for one tenant: the pull lease held for the whole run, every write fenced by it,
and whatever happens mapped to an outcome, so one tenant's failure never stops the others."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ordersync.clock import Clock
from ordersync.config import SyncSettings
from ordersync.console import Reporter
from ordersync.errors import OrdersyncError, TenantBusyError
from ordersync.sync.engine import SyncOutcome, TenantSync
from ordersync.sync.leases import Fence, LeaseKeeper
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

        def outcome(status: str, exc: Exception | None) -> SyncOutcome:
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
                        return outcome("skipped", None)
                    run.tenant = now
                return await run.run()
        except TenantBusyError as exc:
            return outcome("busy", exc)
        except OrdersyncError as exc:
            return outcome("failed", exc)
