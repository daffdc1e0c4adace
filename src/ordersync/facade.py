"""The one object that owns ordersync's operations; the CLI, the worker and the web app call it.

It wires a stage's objects together and delegates; the SQL lives in the stages.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ordersync.aio import run_async
from ordersync.clock import Clock, SystemClock
from ordersync.config import DEFAULT_TIMEZONE, Settings
from ordersync.console import Reporter, SilentReporter
from ordersync.errors import ConfigError, NotFoundError, OrdersyncError, RefusedError, TenantBusyError, TransformError
from ordersync.land import Lander, LandResult
from ordersync.memory import keep_memory_flat
from ordersync.sync.engine import SyncOutcome, TenantSync
from ordersync.sync.jobs import Job, JobPolicy, run_jobs
from ordersync.sync.leases import Fence, LeaseKeeper, dead_on_this_host, holder_name
from ordersync.sync.runs import RunCounters
from ordersync.sync.windows import MODES
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse, migrate, open_warehouse
from ordersync.web.tokens import TokenInfo, TokenStore, digest

if TYPE_CHECKING:
    from ordersync.land.quarantine import RetryResult
    from ordersync.observe.verify import VerifyReport
    from ordersync.revisions.asof import DayDiff, Revenue
    from ordersync.revisions.desk import PlanDesk
    from ordersync.revisions.notices import DeliverySummary
    from ordersync.sources.push.ingest import FileResult
    from ordersync.sources.push.receiver import PushReceiver
    from ordersync.sources.vtex.feed import FeedRound
    from ordersync.sources.vtex.hook import HookRound, Spool
    from ordersync.sources.vtex.setup import SetupResult
    from ordersync.transform import DbtResult

log = logging.getLogger("ordersync")


@dataclass
class SyncReport:
    outcomes: list[SyncOutcome] = field(default_factory=list)
    build_seconds: float | None = None
    build_error: str | None = None
    #: attempts made in all (retries of transient failures included)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.build_error is None and all(o.status in ("succeeded", "skipped") for o in self.outcomes)

    @property
    def failures(self) -> list[SyncOutcome]:
        return [o for o in self.outcomes if o.status not in ("succeeded", "skipped")]


class Ordersync:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        reporter: Reporter | None = None,
        worker_id: str | None = None,
        read_only: bool = False,
    ) -> None:
        keep_memory_flat()
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.reporter: Reporter = reporter or SilentReporter()
        self.worker_id = worker_id
        #: a reading command's: the DuckDB file is opened read-only, never created
        self.read_only = read_only
        self._wh: Warehouse | None = None
        self._leases: LeaseKeeper | None = None
        self._schema_ok = False

    # -- warehouse ---------------------------------------------------------------------------
    @property
    def wh(self) -> Warehouse:
        """The open warehouse. Its schema is checked, never changed, on first use: reading commands
        say to run `ordersync init` when it is behind; writing ones call upgrade() first."""
        if self._wh is None:
            self._wh = open_warehouse(self.settings.warehouse, read_only=self.read_only)
        if not self._schema_ok:
            migrate.check(self._wh)
            self._schema_ok = True
        return self._wh

    def upgrade(self) -> list[str]:
        """Bring the schema up to date under the migration lock (every command that writes does
        this first, so processes starting together on a fresh warehouse all succeed)."""
        if self._wh is None:
            self._wh = open_warehouse(self.settings.warehouse)
        applied = migrate.upgrade(self._wh)
        self._schema_ok = True
        return [m.name for m in applied]

    def reconnect(self) -> None:
        """Drop every connection; the next use opens new ones (after a lost connection)."""
        for close in (self.close_side_connections, self._close_main):
            try:
                close()
            except Exception as exc:  # a dead connection may refuse even to close
                log.debug("closing a lost connection: %s", exc)
        self._leases = None
        self._wh = None

    def _close_main(self) -> None:
        if self._wh is not None:
            self._wh.close()

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
        applied = self.upgrade()
        return migrate.current_version(self.wh), applied

    # -- tenants -----------------------------------------------------------------------------
    @property
    def tenants(self) -> TenantStore:
        return TenantStore(self.wh)

    def add_tenant(
        self,
        name: str,
        *,
        account: str | None,
        base_url: str | None,
        app_key_env: str | None,
        app_token_env: str | None,
        platform: str = "vtex",
        timezone: str = DEFAULT_TIMEZONE,
        frequency_hours: int = 6,
        go_live_date: date | None = None,
    ) -> Tenant:
        self.upgrade()
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

    def update_tenant(
        self,
        name: str,
        *,
        change_capture: str | None = None,
        timezone: str | None = None,
        frequency_hours: int | None = None,
        go_live_date: date | None = None,
    ) -> Tenant:
        self.upgrade()
        return self.tenants.update(
            name,
            change_capture=change_capture,
            timezone=timezone,
            frequency_hours=frequency_hours,
            go_live_date=go_live_date,
        )

    # -- push ----------------------------------------------------------------------------------
    def push_receiver(self) -> PushReceiver:
        from ordersync.sources.push.receiver import PushReceiver

        return PushReceiver(self.wh, self.clock, idempotency_hours=self.settings.serve.idempotency_hours)

    def create_token(self, tenant_name: str, label: str | None = None) -> tuple[str, str]:
        """(token_id, token) for pushing to the tenant; the token is shown only now."""
        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        return TokenStore(self.wh).create(tenant.tenant_id, label, self.clock.now())

    def list_tokens(self, tenant_name: str | None = None) -> list[TokenInfo]:
        tenant_id = self.tenants.get(tenant_name).tenant_id if tenant_name else None
        return TokenStore(self.wh).list(tenant_id)

    def revoke_token(self, token_id: str) -> TokenInfo:
        self.upgrade()
        return TokenStore(self.wh).revoke(token_id, self.clock.now())

    # -- hook --------------------------------------------------------------------------------
    def new_hook_secret(self, tenant_name: str) -> str:
        """A new secret for the tenant's Hook header; only its hash is kept (the old one stops working)."""
        import secrets

        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        secret = secrets.token_urlsafe(32)
        self.tenants.set_hook_secret_hash(tenant.tenant_id, digest(secret))
        return secret

    def hook_round(self, spool: Spool | None = None) -> HookRound:
        """Move spooled Hook notifications into the inbox, then fetch and land their orders."""
        from ordersync.sources.vtex import hook

        if spool is not None:
            spool.drain(lambda notes: hook.Inbox(self.wh).record(notes, self.clock.now()))
        return hook.process(self.wh, self.clock, self.settings.sync, self.leases())

    def hook_setup(self, tenant_name: str, url: str, force: bool = False, what: str = "all") -> SetupResult:
        """Configure the store's Hook to send every change (`what` "status": status changes only)
        to `url` (ordersync serve's endpoint) with a secret header; its hash is kept once the store accepted."""
        from ordersync.sources.vtex import setup

        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        s = self.settings
        chosen = setup.capture_filter(what)
        return run_async(setup.hook_setup(self.tenants, tenant, url, s.sync, s.feed, force, chosen))

    # -- feed --------------------------------------------------------------------------------
    def feed_setup(self, tenant_name: str, force: bool = False, what: str = "all") -> SetupResult:
        """Configure the store's Feed v3 for ordersync (every change; `what` "status": status changes
        only) and poll it from now on (change capture 'feed')."""
        from ordersync.sources.vtex import setup

        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        s = self.settings
        chosen = setup.capture_filter(what)
        return run_async(setup.feed_setup(self.tenants, tenant, s.sync, s.feed, force, chosen))

    def feed_poll(self, tenant_name: str | None = None) -> list[FeedRound]:
        """One feed round for the tenant named, or for every enabled tenant whose change capture is
        the feed: read, fetch, land, then commit."""
        from ordersync.sources.vtex.feed import FeedConsumer, feed_tenants

        self.upgrade()
        targets = feed_tenants(self.tenants, tenant_name)
        if not targets:
            return []
        s = self.settings
        consumer = FeedConsumer(self.wh, self.clock, s.sync, s.feed, self.leases())
        try:
            return run_async(consumer.poll_all(targets))
        finally:
            if not self.wh.concurrent_writers:
                self.close_side_connections()  # DuckDB: dbt must be alone with the file

    # -- sync --------------------------------------------------------------------------------
    def sync(
        self,
        names: Iterable[str] | None = None,
        mode: str = "incremental",
        build: bool | None = None,
        *,
        policy: JobPolicy | None = None,
    ) -> SyncReport:
        """Sync the named tenants (default: every enabled one) through the worker's bounded-parallel,
        retrying path, then build the models. A tenant's failure never stops the others; the report
        names each one."""
        if mode not in MODES:
            raise ConfigError(f"unknown sync mode {mode!r}; use one of: {', '.join(MODES)}")
        self.upgrade()
        names = list(names or [])
        if names:
            targets = [self.tenants.get(n) for n in names]
            for t in targets:
                if not t.pulls:
                    raise ConfigError(
                        f"tenant {t.tenant_name!r} has no pull API to sync (platform {t.platform}); "
                        "its orders arrive by push (ordersync serve) or by ordersync ingest"
                    )
        else:
            targets = [t for t in self.tenants.list(enabled_only=True) if t.pulls]
        report = SyncReport()
        jobs = [Job(t, mode) for t in targets]
        for attempts in self.run_jobs(jobs, policy or JobPolicy()):
            report.outcomes.append(attempts[-1])
            report.attempts += len(attempts)
        if (self.settings.sync.build_after_sync if build is None else build) and targets:
            began = time.perf_counter()
            try:
                self.build(trigger="sync")
            except TransformError as exc:
                report.build_error = str(exc)
            report.build_seconds = time.perf_counter() - began
        return report

    def run_jobs(self, jobs: list[Job], policy: JobPolicy) -> list[list[SyncOutcome]]:
        """Run sync jobs in parallel on connections of their own; every attempt's outcome per job."""
        main = self.wh
        try:
            return run_async(run_jobs(self.sync_tenant, jobs, main.fork, policy))
        finally:
            if not main.concurrent_writers:
                self.close_side_connections()  # DuckDB: dbt must be alone with the file

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
        """One run for one tenant, holding its pull lease; every write of the run is fenced by it.
        Failures come back as a failed outcome (also in the run log), so one tenant's failure never
        stops the others; `outcome.exception` keeps the error. A tenant leased by another process,
        or no longer due once its lease is held (`still_due`, given the tenant as it is now), is
        skipped."""
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
            async with keeper.hold(tenant.tenant_id, tenant.tenant_name) as lease:
                run.fence = Fence(lease, db)
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
        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        return Lander(self.wh, self.clock).land_raw(tenant.tenant_id, tenant.tz, records, source, None)

    def ingest_files(
        self, tenant_name: str, paths: Iterable[str | Path], *, fmt: str | None = None
    ) -> list[FileResult]:
        """Land batch files (NDJSON, a JSON array, CSV, Parquet; each optionally gzipped), one
        result per file: a file ingested before lands nothing, and one that cannot be read is
        reported in its result while the others still land."""
        from ordersync.sources.push.ingest import FileIngest

        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        return FileIngest(self.wh, self.clock).ingest_all(tenant, [Path(p) for p in paths], self.reporter, fmt)

    # -- quarantine --------------------------------------------------------------------------
    def quarantine_list(self, tenant: str | None = None, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Records that could not land (unresolved ones unless `include_resolved`), oldest first."""
        from ordersync.land.quarantine import list_quarantine

        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        return list_quarantine(self.wh, tenant_id, include_resolved)

    def quarantine_retry(self, tenant: str | None = None, ids: list[int] | None = None) -> RetryResult:
        """Parse unresolved records again (fetching store records again first), land what parses now
        and mark it resolved; the rest keep their row with one more retry and the error."""
        from ordersync.land.quarantine import retry_quarantine

        self.upgrade()
        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        return retry_quarantine(self.wh, self.clock, self.settings.sync, tenant_id=tenant_id, ids=ids)

    def withdraw(self, tenant: str, order_id: str, payload_hash: str | None, reason: str, by: str) -> dict[str, Any]:
        """Withdraw a landed version (every version of the order without `payload_hash`): the
        models ignore it from the next build on; the ledger keeps it."""
        from ordersync.land import withdrawals

        self.upgrade()
        tenant_id = self.tenants.get(tenant).tenant_id
        return withdrawals.withdraw(self.wh, self.clock, tenant_id, order_id, payload_hash, reason, by)

    def release_withdrawal(self, withdrawal_id: int, reason: str, by: str, tenant: str | None = None) -> dict[str, Any]:
        """Release a withdrawal: its versions count again from the next build on."""
        from ordersync.land import withdrawals

        self.upgrade()
        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        return withdrawals.release(self.wh, self.clock, tenant_id, withdrawal_id, reason, by)

    def list_withdrawals(self, tenant: str | None = None, include_released: bool = False) -> list[dict[str, Any]]:
        from ordersync.land import withdrawals

        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        return withdrawals.list_withdrawals(self.wh, tenant_id, include_released)

    # -- transform ---------------------------------------------------------------------------
    def build(self, full_refresh: bool = False, *, trigger: str = "cli") -> DbtResult:
        """Run `dbt build` on the models (fct_orders, revenue_daily and their history are never
        rebuilt from scratch); every build, its flags and its outcome are recorded in cdp.build_runs.

        Seals the landing ledger first and gives fct_orders the batches committed since the last
        successful build (seq in (ledger_from, ledger_to]) besides its lookback window; the cursor
        moves to ledger_to only once the build succeeded, so a failed build's batches are read
        again by the next one. The days applied plans left (cdp.pending_restatements) are re-merged
        and recomputed, and cleared only once the build succeeded. In production a full refresh is
        refused before anything runs.

        When the build fails because of some tenants' data, the others are built and the build
        succeeds naming the ones it left out (transform/isolation.py): they are held, and read again
        from where they were left out once their data builds."""
        from ordersync.land import ledger, withdrawals
        from ordersync.transform import builds, isolation, restatements, run_dbt
        from ordersync.transform.buildvars import build_vars, serialized_builds

        if full_refresh and self.settings.environment.is_production:
            raise RefusedError(
                'a full refresh is refused in production ([environment] name = "production"): '
                "fct_orders, revenue_daily and their history are never rebuilt from scratch; to redo "
                "days, draft a plan with `ordersync backfill plan --restate` and apply it once approved"
            )
        self.upgrade()
        wh = self.wh
        target = wh.dbt_target()
        with serialized_builds(wh):
            ledger_to = ledger.seal(wh, self.clock) or 0
            ledger_from = min(ledger.cursor(wh, ledger.FCT_ORDERS), ledger_to)
            todo = restatements.pending(wh)
            dbt_vars = build_vars(wh, self.settings, self.clock.now(), ledger_from, ledger_to, todo)
            held = isolation.held(wh)
            dbt_vars.update(isolation.held_vars(held))
            consumed = isolation.fct_consumed(wh)
            names = {t.tenant_id: t.tenant_name for t in self.tenants.list()}
            flags = {
                "full_refresh": full_refresh,
                "lookback_days": self.settings.dbt.lookback_days,
                "ledger_from": ledger_from,
                "ledger_to": ledger_to,
                "restate": dbt_vars["restate"],
                "built_at": dbt_vars["built_at"],
                "environment": self.settings.environment.name,
            }
            builds.abandon_dead(wh, dead_on_this_host)
            build_id = builds.start(wh, "build", flags, self.worker_id or holder_name("build"), trigger)
            if not wh.concurrent_writers:
                self.close()  # DuckDB: dbt opens the file itself
            task = self.reporter.task("dbt build", total=None)
            began = time.perf_counter()
            error: str | None = None
            failing: dict[int, str] = {}

            def attempt(tenants: Mapping[str, list[int]] | None) -> DbtResult:
                return run_dbt(
                    target,
                    "build",
                    lookback_days=self.settings.dbt.lookback_days,
                    state_dir=Path(self.settings.dbt.state_dir),
                    full_refresh=full_refresh,
                    extra_vars=dbt_vars if tenants is None else isolation.part_vars(dbt_vars, tenants, consumed),
                    project_dir=self.dbt_project_dir,
                )

            try:
                try:
                    result = attempt(None)
                except TransformError as exc:  # some tenants' data? the others still build
                    found = isolation.isolate(attempt, list(names), exc, suspects=list(held))
                    result, failing = found.result, found.failing
                    log.warning("build %s left out tenants %s: %s", build_id, sorted(failing), exc)
                left_out = sorted(failing)
                with self.wh.transaction():
                    ledger.advance(self.wh, ledger.FCT_ORDERS, ledger_to, self.clock.now())
                    restatements.done(self.wh, [r for r in todo if r.tenant_id not in failing])
                    withdrawals.applied(self.wh, dbt_vars["withdrawals"], left_out)
                    isolation.settle(
                        self.wh,
                        built=[t for t in held if t not in failing],
                        failing=failing,
                        ledger_from=ledger_from,
                        consumed=consumed,
                        build_id=build_id,
                        now=self.clock.now(),
                    )
                return result
            except BaseException as exc:
                error = str(exc) if isinstance(exc, OrdersyncError) else f"{type(exc).__name__}: {exc}"
                raise
            finally:
                task.close()
                status = "failed" if error is not None else "succeeded"
                try:
                    builds.finish(
                        self.wh,
                        build_id,
                        status,
                        time.perf_counter() - began,
                        error,
                        isolation.failed_tenants_json(failing, names),
                    )
                except OrdersyncError as exc:  # the build's own outcome matters more than its log line
                    log.warning("could not record build %s as %s: %s", build_id, status, exc)

    # -- revision notices --------------------------------------------------------------------
    def deliver_notices(self, lock: AbstractContextManager[Any] | None = None) -> DeliverySummary:
        """POST every revision notice due to each webhook of `[revisions] webhook_url_envs` and record
        the outcome (delivered, retried with back-off, given up). `lock` is held whenever the
        warehouse is used, never during the requests (ordersync serve's gate)."""
        from ordersync.revisions.notices import NoticeSender

        with lock if lock is not None else nullcontext():
            self.upgrade()
        return NoticeSender(lambda: self.wh, self.settings.revisions, self.clock, lock=lock).deliver()

    def list_notices(self, tenant: str | None = None, undelivered_only: bool = False) -> list[dict[str, Any]]:
        """Revision notices, newest first, each with its delivery state per webhook."""
        from ordersync.revisions.notices import list_notices

        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        names = list(dict.fromkeys(self.settings.revisions.webhook_url_envs))
        return list_notices(self.wh, names, tenant_id, undelivered_only)

    @property
    def dbt_project_dir(self) -> Path | None:
        """The dbt project of one's own (`[dbt] project_dir`) builds run instead of the shipped one."""
        value = self.settings.dbt.project_dir
        return Path(value).expanduser() if value else None

    def write_dbt_profiles(self, folder: Path, *, force: bool = False) -> Path:
        """profiles.yml (mode 0600) with profile `ordersync` for this warehouse, for plain dbt runs of a
        project of one's own (`ordersync dbt profiles`)."""
        from ordersync.transform.project import write_user_profiles

        return write_user_profiles(folder, self.wh.dbt_target(), force=force)

    # -- revisions ---------------------------------------------------------------------------
    def revenue(
        self,
        tenant: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
        as_of: datetime | None = None,
    ) -> Revenue:
        """Daily revenue: as the last build left it (revenue_daily, stamped with the ledger instant
        it is as of), or as known at `as_of`, exactly (the same answer whenever it is asked again)."""
        from ordersync.revisions import asof

        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        if as_of is None:
            if not self.table_exists("revenue_daily"):
                raise NotFoundError("no revenue yet: revenue_daily is built by `ordersync build`")
            return asof.current(self.wh, tenant_id=tenant_id, day_from=day_from, day_to=day_to)
        at = self._known_instant(as_of)
        return asof.as_of(self.wh, self.settings.orders, at, tenant_id=tenant_id, day_from=day_from, day_to=day_to)

    def revenue_diff(
        self,
        as_of: datetime,
        against: datetime | None = None,
        tenant: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
    ) -> list[DayDiff]:
        """Every day whose revenue differs between as of `as_of` (before) and as of `against`
        (after; default now), with the orders that caused it."""
        from ordersync.revisions import asof

        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        before = self._known_instant(as_of)
        after = self._known_instant(against or self.clock.now())
        return asof.diff(
            self.wh, self.settings.orders, before, after, tenant_id=tenant_id, day_from=day_from, day_to=day_to
        )

    @property
    def plans(self) -> PlanDesk:
        """Backfill and restatement plans: draft, approve or reject, apply (revisions/desk.py)."""
        from ordersync.revisions.desk import PlanDesk

        self.upgrade()
        return PlanDesk(lambda: self.wh, self.settings, self.clock, self.leases, self._plan_build, run_async)

    def _plan_build(self) -> object:
        return self.build(trigger="plan")

    def _known_instant(self, at: datetime) -> datetime:
        """`at` checked for an as-of question: the ledger is sealed first (so every batch
        committed until now is numbered by now), and a moment after that is refused: what will be
        known then is not known yet."""
        from ordersync.land import ledger

        if at.tzinfo is None:
            raise ConfigError(f"--as-of {at.isoformat()} has no time zone: give one (e.g. 2026-06-05T00:00:00Z)")
        ledger.seal(self.wh, self.clock)
        now = self.clock.now()
        if at > now:
            raise ConfigError(
                f"--as-of {at.isoformat()} is in the future (now is {now.isoformat()}): what will be known then "
                "is not known yet; ask without --as-of for the latest build, or give a past moment"
            )
        return at

    def recent_builds(self, limit: int = 20) -> list[dict[str, Any]]:
        from ordersync.transform import builds

        return builds.recent(self.wh, limit)

    # -- observe -----------------------------------------------------------------------------
    def table_exists(self, name: str) -> bool:
        from ordersync.observe.status import _has_table

        return _has_table(self.wh, name)

    def status(self) -> list[dict[str, Any]]:
        """Per tenant: sync state (Current / Behind / Stale relative to the tenant's own sync
        frequency), last run and build, counts."""
        from ordersync.observe.status import tenant_status

        return tenant_status(
            self.wh,
            self.tenants.list(),
            self.clock.now(),
            self.settings.sync.historical_direction,
            lateness_budget_days=self.settings.sync.lateness_budget_days,
        )

    def progress(self) -> list[dict[str, Any]]:
        """Historical sync progress per tenant: range, frontier, share done, completion flag."""
        from ordersync.observe.status import tenant_progress

        return tenant_progress(self.wh, self.tenants.list(), self.settings.sync.historical_direction)

    def gaps(self, days: int = 30) -> list[dict[str, Any]]:
        """Days where the warehouse holds fewer orders or less revenue than the source (asked live,
        one list request per tenant-day), and each tenant's days behind (the seed's query)."""
        from ordersync.observe.gaps import tenant_gaps

        tenants = self.tenants.list(enabled_only=True)
        return run_async(tenant_gaps(tenants, self.wh.fork, self.clock.now(), self.settings.sync, days))

    def lateness(self, tenant: str | None = None, days: int = 30) -> list[dict[str, Any]]:
        """Per tenant and order date over the last `days` order dates: versions by lateness, the
        share that landed after the build's lookback, and those over the lateness budget (flagged,
        never dropped), with a breakdown per source."""
        from ordersync.observe.lateness import tenant_lateness

        if days < 1:
            raise ConfigError(f"days must be at least 1 (got {days})")
        tenants = [self.tenants.get(tenant)] if tenant else self.tenants.list()
        return tenant_lateness(
            self.wh,
            tenants,
            self.clock.now(),
            days=days,
            lookback_days=self.settings.dbt.lookback_days,
            budget_days=self.settings.sync.lateness_budget_days,
        )

    def verify(self, tenant: str | None = None, days: int = 14, checks: Iterable[str] | None = None) -> VerifyReport:
        """The seed's verification, one result per check with its figures: dbt tests, each of the
        last `days` days against the source, fct_orders against the latest landed versions,
        revenue_daily against fct_orders, no full refresh in the build log, lateness. Reads only;
        `checks` names a subset (observe.verify.CHECKS)."""
        from ordersync.observe import verify

        wanted = verify.parse_checks(checks)
        tenants = [self.tenants.get(tenant)] if tenant else self.tenants.list()
        ctx = verify.Context(
            warehouse=lambda: self.wh,
            release=self.close,
            settings=self.settings,
            now=self.clock.now(),
            project_dir=self.dbt_project_dir,
        )
        return verify.run(ctx, tenants, days=days, tenant_name=tenant, checks=wanted)

    def run_counters(self, run_id: str) -> RunCounters:
        from ordersync.sync import runs

        return runs.counters(self.wh, run_id)
