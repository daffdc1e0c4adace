"""The one object that owns ordersync's operations; the CLI, the worker and the web app call it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ordersync.clock import Clock, SystemClock
from ordersync.config import DEFAULT_TIMEZONE, Settings
from ordersync.console import Reporter, SilentReporter
from ordersync.errors import ConfigError, OrdersyncError, TenantBusyError
from ordersync.land import Lander, LandResult
from ordersync.memory import keep_memory_flat
from ordersync.sync.engine import SyncOutcome, TenantSync
from ordersync.sync.leases import LeaseKeeper, holder_name
from ordersync.sync.runs import RunCounters
from ordersync.sync.windows import MODES
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse, migrate, open_warehouse

if TYPE_CHECKING:
    from ordersync.transform import DbtResult

T = TypeVar("T")


@dataclass
class SyncReport:
    outcomes: list[SyncOutcome] = field(default_factory=list)
    build_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return all(o.status in ("succeeded", "skipped") for o in self.outcomes)


class Ordersync:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        reporter: Reporter | None = None,
        worker_id: str | None = None,
    ) -> None:
        keep_memory_flat()
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.reporter: Reporter = reporter or SilentReporter()
        self.worker_id = worker_id
        self._wh: Warehouse | None = None
        self._leases: LeaseKeeper | None = None

    # -- warehouse ---------------------------------------------------------------------------
    @property
    def wh(self) -> Warehouse:
        """The open warehouse, upgraded to the latest schema on first use."""
        if self._wh is None:
            self._wh = open_warehouse(self.settings.warehouse)
            migrate.upgrade(self._wh)
        return self._wh

    def close_side_connections(self) -> None:
        if self._leases is not None:
            self._leases.wh.close()
            self._leases = None

    def close(self) -> None:
        self.close_side_connections()
        if self._wh is not None:
            self._wh.close()
            self._wh = None

    def __enter__(self) -> Ordersync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init(self) -> tuple[int, list[str]]:
        """Create or upgrade the schema; returns (schema version, migrations applied now)."""
        if self._wh is None:
            self._wh = open_warehouse(self.settings.warehouse)
        applied = migrate.upgrade(self._wh)
        return migrate.current_version(self._wh), [m.name for m in applied]

    # -- tenants -----------------------------------------------------------------------------
    @property
    def tenants(self) -> TenantStore:
        return TenantStore(self.wh)

    def add_tenant(
        self,
        name: str,
        *,
        account: str,
        base_url: str,
        app_key_env: str | None,
        app_token_env: str | None,
        platform: str = "vtex",
        timezone: str = DEFAULT_TIMEZONE,
        frequency_hours: int = 6,
        go_live_date: date | None = None,
    ) -> Tenant:
        return self.tenants.add(
            name,
            platform=platform,
            account=account,
            base_url=base_url,
            app_key_env=app_key_env,
            app_token_env=app_token_env,
            timezone=timezone,
            frequency_hours=frequency_hours,
            go_live_date=go_live_date,
            now=self.clock.now(),
        )

    # -- sync --------------------------------------------------------------------------------
    def sync(
        self, names: Iterable[str] | None = None, mode: str = "incremental", build: bool | None = None
    ) -> SyncReport:
        """Sync the named tenants (default: every enabled one), then build the models."""
        if mode not in MODES:
            raise ConfigError(f"unknown sync mode {mode!r}; use one of: {', '.join(MODES)}")
        names = list(names or [])
        targets = [self.tenants.get(n) for n in names] if names else self.tenants.list(enabled_only=True)
        report = SyncReport()
        for tenant in targets:
            report.outcomes.append(self._sync_one(tenant, mode))
        if (self.settings.sync.build_after_sync if build is None else build) and targets:
            began = time.perf_counter()
            self.build()
            report.build_seconds = time.perf_counter() - began
        return report

    def _sync_one(self, tenant: Tenant, mode: str, historical_batches: int | None = None) -> SyncOutcome:
        return run_async(self.sync_tenant(tenant, mode, historical_batches=historical_batches))

    def leases(self) -> LeaseKeeper:
        """This process's lease keeper, on a connection of its own."""
        if self._leases is None:
            holder = self.worker_id or holder_name(f"cli-{uuid.uuid4().hex[:6]}")
            self._leases = LeaseKeeper(self.wh.fork(), holder, self.settings.sync.lease_seconds)
        return self._leases

    async def sync_tenant(
        self,
        tenant: Tenant,
        mode: str,
        *,
        wh: Warehouse | None = None,
        historical_batches: int | None = None,
        attempt: int = 1,
        still_due: Callable[[Tenant], bool] | None = None,
    ) -> SyncOutcome:
        """One run for one tenant, holding its lease. Failures come back as a failed outcome (also in the
        run log), so one tenant's failure never stops the others; `outcome.exception` keeps the error.
        A tenant leased by another process, or no longer due once its lease is held (`still_due`, given
        the tenant as it is now), is skipped."""
        db = wh or self.wh
        run = TenantSync(
            db,
            tenant,
            self.settings.sync,
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
            async with keeper.hold(tenant.tenant_id, tenant.tenant_name):
                if still_due is not None:
                    now = await asyncio.to_thread(TenantStore(db).by_id, tenant.tenant_id)
                    if not still_due(now):
                        return outcome("skipped", None)
                    run.tenant = now
                return await run.run()
        except TenantBusyError as exc:
            return outcome("busy", exc)
        except OrdersyncError as exc:
            return outcome("failed", exc)

    # -- landing from files ----------------------------------------------------------------
    def land_records(self, tenant_name: str, records: Iterable[bytes | str], source: str = "file") -> LandResult:
        tenant = self.tenants.get(tenant_name)
        return Lander(self.wh, self.clock).land_raw(tenant.tenant_id, tenant.tz, records, source, None)

    # -- transform ---------------------------------------------------------------------------
    def build(self, full_refresh: bool = False) -> DbtResult:
        """Run `dbt build` on the shipped models (fct_orders is never rebuilt from scratch)."""
        from ordersync.transform import run_dbt

        wh = self.wh
        target = wh.dbt_target()
        if not wh.concurrent_writers:
            self.close()  # DuckDB: dbt opens the file itself
        task = self.reporter.task("dbt build", total=None)
        try:
            return run_dbt(
                target,
                "build",
                lookback_days=self.settings.dbt.lookback_days,
                state_dir=Path(self.settings.dbt.state_dir),
                full_refresh=full_refresh,
            )
        finally:
            task.close()

    # -- observe -----------------------------------------------------------------------------
    def table_exists(self, name: str) -> bool:
        return bool(
            self.wh.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cdp' AND table_name = ?",
                (name,),
            )
        )

    def status(self) -> list[dict[str, Any]]:
        """Per tenant: sync state (Current / Behind / Stale, the seed's thresholds), last run, counts."""
        now = self.clock.now()
        wh = self.wh
        landed = dict(wh.query("SELECT tenant_id, count(DISTINCT order_id) FROM cdp.orders_landing GROUP BY 1"))
        fct: dict[int, int] = {}
        if self.table_exists("fct_orders"):
            fct = dict(wh.query("SELECT tenant_id, count(*) FROM cdp.fct_orders GROUP BY 1"))
        last_runs = {
            r[0]: r[1:]
            for r in wh.query(
                "SELECT r.tenant_id, r.status, r.mode, r.started_at, r.finished_at, r.error FROM cdp.sync_runs r "
                "JOIN (SELECT tenant_id, max(started_at) AS s FROM cdp.sync_runs GROUP BY 1) m "
                "ON m.tenant_id = r.tenant_id AND m.s = r.started_at"
            )
        }
        quarantined = dict(wh.query("SELECT tenant_id, count(*) FROM cdp.quarantine GROUP BY 1"))
        open_discrepancies = dict(
            wh.query("SELECT tenant_id, count(*) FROM cdp.discrepancies WHERE NOT fixed GROUP BY 1")
        )
        progress = {p["tenant"]: p["progress"] for p in self.progress()}
        out: list[dict[str, Any]] = []
        for t in self.tenants.list():
            run = last_runs.get(t.tenant_id)
            today = now.astimezone(t.tz).date()
            orders_today = wh.scalar(
                "SELECT count(DISTINCT order_id) FROM cdp.orders_landing WHERE tenant_id = ? AND order_date = ?",
                (t.tenant_id, today),
            )
            out.append(
                {
                    "tenant": t.tenant_name,
                    "tenant_id": t.tenant_id,
                    "enabled": t.sync_enabled,
                    "state": sync_state(t.last_sync_at, now),
                    "last_sync_at": t.last_sync_at.isoformat() if t.last_sync_at else None,
                    "last_run_status": run[0] if run else None,
                    "last_run_mode": run[1] if run else None,
                    "last_run_error": run[4] if run else None,
                    "orders_today": int(orders_today or 0),
                    "orders_landed": int(landed.get(t.tenant_id, 0)),
                    "orders_in_fct": int(fct.get(t.tenant_id, 0)),
                    "quarantined": int(quarantined.get(t.tenant_id, 0)),
                    "open_discrepancies": int(open_discrepancies.get(t.tenant_id, 0)),
                    "historical_progress": f"{progress.get(t.tenant_name, 1.0):.0%}",
                    "initial_sync_completed": t.initial_sync_completed,
                }
            )
        return out

    def progress(self) -> list[dict[str, Any]]:
        """Historical sync progress per tenant: range, frontier, share done, completion flag."""
        from ordersync.sync import checkpoints
        from ordersync.sync.windows import history

        out: list[dict[str, Any]] = []
        direction = self.settings.sync.historical_direction
        for t in self.tenants.list():
            h = history(t, checkpoints.load(self.wh, t.tenant_id), direction)
            out.append(
                {
                    "tenant": t.tenant_name,
                    "go_live_date": t.go_live_date.isoformat() if t.go_live_date else None,
                    "history_until": h.until.isoformat() if h.until else None,
                    "direction": direction,
                    "frontier": h.frontier.isoformat() if h.frontier else None,
                    "progress": round(h.progress, 4),
                    "pending": h.pending,
                    "initial_sync_completed": t.initial_sync_completed,
                }
            )
        return out

    def gaps(self, days: int = 30) -> list[dict[str, Any]]:
        """Days where the warehouse holds fewer orders or less revenue than the source (asked live,
        one list request per tenant-day), and each tenant's days behind (the seed's query)."""
        return run_async(self._gaps(days))

    async def _gaps(self, days: int) -> list[dict[str, Any]]:
        import asyncio

        from ordersync.sync import reconcile
        from ordersync.sync.engine import client_for

        async def one(t: Tenant) -> list[dict[str, Any]]:
            tz = t.tz
            end = self.clock.now() - timedelta(minutes=self.settings.sync.index_lag_minutes)
            day_list = reconcile.complete_days(end, days, tz)
            async with client_for(t, self.settings.sync) as client:
                source = await reconcile.source_days(client, tz, day_list)
            wh = await asyncio.to_thread(self.wh.fork)
            try:
                held = await asyncio.to_thread(reconcile.warehouse_days, wh, t.tenant_id, day_list[0], day_list[-1])
                last = await asyncio.to_thread(
                    wh.scalar,
                    "SELECT max(order_date) FROM cdp.orders_landing WHERE tenant_id = ?",
                    (t.tenant_id,),
                )
            finally:
                await asyncio.to_thread(wh.close)
            today = self.clock.now().astimezone(tz).date()
            behind = (today - last).days if last else None
            rows: list[dict[str, Any]] = [
                {
                    "tenant": t.tenant_name,
                    "date": c.day.isoformat(),
                    "source_orders": c.source.orders,
                    "warehouse_orders": c.warehouse.orders,
                    "source_revenue": str(c.source.total),
                    "warehouse_revenue": str(c.warehouse.total),
                    "days_behind": behind,
                }
                for c in reconcile.compare(source, held)
                if c.short
            ]
            if behind is None or behind > 1:
                rows.append({"tenant": t.tenant_name, "date": None, "days_behind": behind})
            return rows

        results = await asyncio.gather(*(one(t) for t in self.tenants.list(enabled_only=True)))
        return [r for rows in results for r in rows]

    def run_counters(self, run_id: str) -> RunCounters:
        row = self.wh.query_one(
            "SELECT orders_listed, orders_fetched, versions_landed, late_versions, quarantined, list_calls, "
            "get_calls, retries FROM cdp.sync_runs WHERE run_id = ?",
            (run_id,),
        )
        return RunCounters(*row) if row else RunCounters()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop (several times faster for many small HTTP requests)."""
    import uvloop

    return uvloop.run(coro)


def sync_state(last_sync_at: datetime | None, now: datetime) -> str:
    """The seed's thresholds: Current within 6 hours, Behind within 12, otherwise Stale."""
    if last_sync_at is None:
        return "Stale"
    age = (now - last_sync_at).total_seconds() / 3600
    if age < 6:
        return "Current"
    if age < 12:
        return "Behind"
    return "Stale"
