"""The one object that owns ordersync's operations; the CLI, the worker and the web app call it.

It wires the stages together and delegates: the SQL and the stage logic live in the stages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ordersync.aio import run_async
from ordersync.clock import Clock, SystemClock
from ordersync.config import DEFAULT_TIMEZONE, Settings
from ordersync.console import Reporter, SilentReporter
from ordersync.coordination.leases import LeaseKeeper, holder_name
from ordersync.customers import answers
from ordersync.customers import events as customer_events
from ordersync.customers.desk import CustomersDesk
from ordersync.customers.forget import Forgotten
from ordersync.customers.step import CustomerRun, RunKind
from ordersync.land import Lander, LandResult, withdrawals
from ordersync.land.quarantine import RetryResult, list_quarantine, retry_quarantine
from ordersync.memory import keep_memory_flat
from ordersync.notify.webhooks import DeliverySummary
from ordersync.observe import summaries
from ordersync.observe.gaps import tenant_gaps
from ordersync.observe.lateness import tenant_lateness
from ordersync.observe.status import tenant_progress, tenant_status
from ordersync.observe.verify import Context, VerifyReport, parse_checks
from ordersync.observe.verify import run as run_checks
from ordersync.revisions import asof, notices
from ordersync.revisions.desk import PlanDesk
from ordersync.revisions.past import PastAnswers
from ordersync.revisions.plans import Plan, PlanStore
from ordersync.sources.files.ingest import FileIngest, FileResult
from ordersync.sources.push.events import parse_item
from ordersync.sources.push.receiver import PushReceiver
from ordersync.sources.vtex import hook, setup
from ordersync.sources.vtex.client import client_for
from ordersync.sources.vtex.feed import FeedConsumer, FeedRound, feed_tenants
from ordersync.sync import runs
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.jobs import Job, JobPolicy, run_jobs
from ordersync.sync.runs import PullHistory, RunCounters
from ordersync.sync.tenant_run import SyncReport, TenantRunner, check_mode, pull_targets, sync_tenants
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.sessions import SessionStore
from ordersync.tenants.tokens import Access, Scope, TokenInfo, TokenStore
from ordersync.transform import DbtResult, builds
from ordersync.transform.build import Builder
from ordersync.transform.project import write_user_profiles
from ordersync.warehouse import Warehouse, migrate
from ordersync.warehouse.session import WarehouseSession

log = logging.getLogger("ordersync")


class Ordersync:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        reporter: Reporter | None = None,
        worker_id: str | None = None,
        read_only: bool = False,
        past: PastAnswers[asof.Revenue] | None = None,
        past_diffs: PastAnswers[list[asof.DayDiff]] | None = None,
        keeper: summaries.Keeper | None = None,
    ) -> None:
        keep_memory_flat()
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.reporter: Reporter = reporter or SilentReporter()
        self.worker_id = worker_id
        self._session = WarehouseSession(settings.warehouse, read_only=read_only)
        self._leases: LeaseKeeper | None = None
        #: revenue answers about moments before the last seal (facades of one serve share theirs)
        self.past = past or PastAnswers()
        self.past_diffs = past_diffs or PastAnswers(size=4)  # a diff can hold every order of a year
        self.keeper = keeper  # serve's readers: the summaries as its loop keeps them (None: counted per read)
        self.customers = CustomersDesk(lambda: self.wh, settings, self.clock, self.leases)

    # -- warehouse ---------------------------------------------------------------------------
    @property
    def wh(self) -> Warehouse:
        """The open warehouse, its schema checked (never changed) on first use; writers upgrade() first."""
        return self._session.wh

    @property
    def warehouse_url(self) -> str:
        """The warehouse's URL with any password masked, for messages."""
        return self.wh.display_url

    def upgrade(self) -> list[str]:
        """Bring the schema up to date under the migration lock (every writing command does this first)."""
        return self._session.upgrade()

    def reconnect(self) -> None:
        """Drop every connection; the next use opens new ones (after a lost connection)."""
        try:
            self.close_side_connections()
        except Exception as exc:  # a dead connection may refuse even to close
            log.debug("closing a lost connection: %s", exc)
        self._leases = None
        self._session.drop()

    def close_side_connections(self) -> None:
        if self._leases is not None:
            self._leases.wh.close()
            self._leases = None

    def close(self) -> None:
        self.close_side_connections()
        self._session.close()

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

    def list_tenants(self, *, enabled_only: bool = False) -> list[Tenant]:
        return self.tenants.list(enabled_only=enabled_only)

    def get_tenant(self, name: str) -> Tenant:
        return self.tenants.get(name)

    def _tenants_named(self, name: str | None) -> list[Tenant]:
        """The tenant named, or every tenant when no name is given."""
        return [self.tenants.get(name)] if name else self.tenants.list()

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
        country: str | None = None,
    ) -> Tenant:
        self.upgrade()
        return self.tenants.update(
            name,
            change_capture=change_capture,
            timezone=timezone,
            frequency_hours=frequency_hours,
            go_live_date=go_live_date,
            country=country,
        )

    def set_tenant_enabled(self, name: str, enabled: bool) -> Tenant:
        self.upgrade()
        return self.tenants.set_enabled(name, enabled)

    def set_tenant_endpoint(self, name: str, base_url: str, account: str) -> Tenant:
        self.upgrade()
        return self.tenants.set_endpoint(name, base_url, account)

    # -- push ----------------------------------------------------------------------------------
    def push_receiver(self) -> PushReceiver:
        return PushReceiver(self.wh, self.clock, idempotency_hours=self.settings.serve.idempotency_hours)

    def create_token(
        self,
        tenant_name: str | None,
        label: str | None = None,
        max_items_per_minute: int | None = None,
        scope: Scope = Scope.PUSH,
    ) -> tuple[str, str]:
        """(token_id, token) of `scope` (push and read: for the tenant named); shown only now."""
        self.upgrade()
        tenant_id = self.tenants.get(tenant_name).tenant_id if tenant_name else None
        return TokenStore(self.wh).create(tenant_id, label, self.clock.now(), max_items_per_minute, scope)

    def token_access(self, token: str) -> Access | None:
        """What a live token allows (any scope), or None."""
        return TokenStore(self.wh).access_of(token)

    def open_session(self, token_id: str) -> str:
        """A browser session for a live token (checked by the caller); its id, shown once."""
        return SessionStore(self.wh).open(token_id, self.clock.now())

    def session_access(self, session_id: str) -> Access | None:
        return SessionStore(self.wh).access_of(session_id, self.clock.now())

    def end_session(self, session_id: str) -> None:
        SessionStore(self.wh).end(session_id, self.clock.now())

    def set_token_budget(self, token_id: str, max_items_per_minute: int | None) -> TokenInfo:
        self.upgrade()
        return TokenStore(self.wh).set_budget(token_id, max_items_per_minute)

    def list_tokens(self, tenant_name: str | None = None) -> list[TokenInfo]:
        return TokenStore(self.wh).list(self.tenants.resolve(tenant_name))

    def revoke_token(self, token_id: str) -> TokenInfo:
        self.upgrade()
        return TokenStore(self.wh).revoke(token_id, self.clock.now())

    # -- hook --------------------------------------------------------------------------------
    def new_hook_secret(self, tenant_name: str) -> str:
        """A new secret for the tenant's Hook header; only its hash is kept (the old one stops working)."""
        self.upgrade()
        return setup.new_hook_secret(self.tenants, self.tenants.get(tenant_name))

    def hook_secrets(self, tenant_name: str | None = None) -> dict[str, tuple[int, str | None]]:
        """(tenant id, hook secret hash or None) by tenant name: every tenant's, or the one named."""
        return self.tenants.hook_secrets(tenant_name)

    def hook_round(self, spool: hook.Spool | None = None) -> hook.HookRound:
        """Move spooled Hook notifications into the inbox, then fetch and land their orders."""
        if spool is not None:
            spool.drain(lambda notes: hook.Inbox(self.wh).record(notes, self.clock.now()))
        return hook.process(self.wh, self.clock, self.settings.sync, self.leases())

    def hook_setup(self, tenant_name: str, url: str, force: bool = False, what: str = "all") -> setup.SetupResult:
        """Point the store's Hook at `url` (serve's endpoint) with a secret header (`what`: status or all)."""
        self.upgrade()
        s, tenant, chosen = self.settings, self.tenants.get(tenant_name), setup.capture_filter(what)
        return run_async(setup.hook_setup(self.tenants, tenant, url, s.sync, s.feed, force, chosen))

    # -- feed --------------------------------------------------------------------------------
    def feed_setup(self, tenant_name: str, force: bool = False, what: str = "all") -> setup.SetupResult:
        """Configure the store's Feed v3 (`what` "status": status changes only) and poll it from now on."""
        self.upgrade()
        s, tenant, chosen = self.settings, self.tenants.get(tenant_name), setup.capture_filter(what)
        return run_async(setup.feed_setup(self.tenants, tenant, s.sync, s.feed, force, chosen))

    def feed_poll(self, tenant_name: str | None = None) -> list[FeedRound]:
        """One feed round for the tenant named, or for every enabled tenant polling the feed."""
        self.upgrade()
        targets = feed_tenants(self.tenants, tenant_name)
        if not targets:
            return []
        s = self.settings
        consumer = FeedConsumer(self.wh, self.clock, s.sync, s.feed, self.leases())
        return run_async(consumer.poll_all(targets))

    # -- sync --------------------------------------------------------------------------------
    def pull_tenants(self, names: Iterable[str] | None = None) -> list[Tenant]:
        """The tenants named (each must have a pull API), or every enabled one that has one."""
        return pull_targets(self.tenants, names)

    def pull_history(self) -> PullHistory:
        """What the worker's schedule reads: the last full and first incremental runs, the checkpoints."""
        return runs.pull_history(self.wh)

    def sync(
        self,
        names: Iterable[str] | None = None,
        mode: str = "incremental",
        build: bool | None = None,
        *,
        policy: JobPolicy | None = None,
    ) -> SyncReport:
        """Sync the named tenants (default: every enabled one) as the worker does, then build (sync/tenant_run.py)."""
        check_mode(mode)
        self.upgrade()
        targets = self.pull_tenants(names)
        after = self.settings.sync.build_after_sync if build is None else build
        jobs = policy or JobPolicy()
        build_after = partial(self.build, trigger="sync") if after else None
        return sync_tenants(targets, mode, lambda js: self.run_jobs(js, jobs), build_after)

    def run_jobs(self, jobs: list[Job], policy: JobPolicy) -> list[list[SyncOutcome]]:
        """Run sync jobs in parallel on connections of their own; every attempt's outcome per job."""
        runner, main = TenantRunner(self.settings.sync, self.clock, self.reporter, self.leases, self.worker_id), self.wh
        return run_async(run_jobs(runner, jobs, main.fork, policy))

    def leases(self) -> LeaseKeeper:
        """This process's lease keeper, on a connection of its own."""
        if self._leases is None:
            holder = self.worker_id or holder_name(f"cli-{uuid.uuid4().hex[:6]}")
            self._leases = LeaseKeeper(self.wh.fork(), holder, self.settings.sync.lease_seconds)
        return self._leases

    def run_counters(self, run_id: str) -> RunCounters:
        return runs.counters(self.wh, run_id)

    def recent_runs(
        self,
        tenant: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = 100,
        after: tuple[Any, ...] | None = None,
    ) -> list[dict[str, Any]]:
        """The sync run log, newest first: one tenant's runs or everyone's, started at or after `since`
        (and after the run keyed `after`: sync.runs.run_key)."""
        tenant_id = self.tenants.get(tenant).tenant_id if tenant else None
        return runs.listed(self.wh, tenant_id=tenant_id, since=since, limit=limit, after=after)

    # -- landing from files ----------------------------------------------------------------
    def land_records(self, tenant_name: str, records: Iterable[bytes | str], source: str = "file") -> LandResult:
        self.upgrade()
        tenant = self.tenants.get(tenant_name)
        return Lander(self.wh, self.clock).land_raw(tenant.tenant_id, tenant.tz, records, source, None)

    def ingest_files(
        self, tenant_name: str, paths: Iterable[str | Path], *, fmt: str | None = None
    ) -> list[FileResult]:
        """Land batch files (NDJSON, a JSON array, CSV, Parquet; each optionally gzipped), one result per file."""
        self.upgrade()
        files, tenant = [Path(p) for p in paths], self.tenants.get(tenant_name)
        return FileIngest(self.wh, self.clock).ingest_all(tenant, files, self.reporter, fmt)

    # -- quarantine --------------------------------------------------------------------------
    def quarantine_list(
        self,
        tenant: str | None = None,
        include_resolved: bool = False,
        *,
        ids: list[int] | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records that could not land (unresolved ones unless `include_resolved`), oldest first: those
        of `ids` when given, at most `limit` after the id `after` when given."""
        tid = self.tenants.resolve(tenant)
        return list_quarantine(self.wh, tid, include_resolved, ids=ids, after=after, limit=limit)

    def quarantine_retry(self, tenant: str | None = None, ids: list[int] | None = None) -> RetryResult:
        """Parse unresolved records again (store records fetched again first) and land what parses now."""
        self.upgrade()
        tid = self.tenants.resolve(tenant)  # parser and client given here: land may not import sources
        sync = self.settings.sync
        return retry_quarantine(
            self.wh, self.clock, sync, parse_pushed=parse_item, open_client=client_for, tenant_id=tid, ids=ids
        )

    def withdraw(self, tenant: str, order_id: str, payload_hash: str | None, reason: str, by: str) -> dict[str, Any]:
        """Withdraw a landed version (every version of the order without `payload_hash`) from the models."""
        self.upgrade()
        tid = self.tenants.get(tenant).tenant_id
        return withdrawals.withdraw(self.wh, self.clock, tid, order_id, payload_hash, reason, by)

    def release_withdrawal(self, withdrawal_id: int, reason: str, by: str, tenant: str | None = None) -> dict[str, Any]:
        """Release a withdrawal: its versions count again from the next build on."""
        self.upgrade()
        return withdrawals.release(self.wh, self.clock, self.tenants.resolve(tenant), withdrawal_id, reason, by)

    def list_withdrawals(self, tenant: str | None = None, include_released: bool = False) -> list[dict[str, Any]]:
        return withdrawals.list_withdrawals(self.wh, self.tenants.resolve(tenant), include_released)

    # -- transform ---------------------------------------------------------------------------
    def build(self, full_refresh: bool = False, *, trigger: str = "cli") -> DbtResult:
        """Run `dbt build` on the models, recorded in cdp.build_runs (transform/build.py)."""
        holder = self.worker_id or holder_name("build")
        builder = Builder(self.upgrade, lambda: self.wh, self.settings, self.clock, self.reporter, holder)
        builder.project_dir = self.dbt_project_dir
        result = builder.build(full_refresh, trigger)
        self.keep_customers()
        summaries.refresh(self.wh, self.clock)  # the build sealed the ledger: keep up with it
        summaries.count_built(self.wh, self.clock.now())
        return result

    def list_customers(
        self,
        tenant: str | None = None,
        *,
        segment: str | None = None,
        stage: str | None = None,
        top: int | None = None,
        after: tuple[Any, ...] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Customers, the most valuable first; a page of one tenant's after the one keyed `after`
        (customers.answers.customer_key_of) when `limit` is given."""
        tid = self.tenants.resolve(tenant)
        return answers.list_customers(self.wh, tid, segment=segment, stage=stage, top=top, after=after, limit=limit)

    def show_customer(self, tenant: str, *, key: str | None = None, email: str | None = None) -> dict[str, Any]:
        """One customer, by key or by an email of theirs."""
        tid = self.tenants.get(tenant).tenant_id
        found = key if key is not None else answers.key_by_email(self.wh, tid, email or "")
        return answers.show(self.wh, tid, found)

    def forget_customer(
        self, tenant: str, *, by: str, key: str | None = None, email: str | None = None, document: str | None = None
    ) -> Forgotten:
        """Take one person out of the tenant's data (customers/forget.py)."""
        self.upgrade()
        return self.customers.forget(self.tenants.get(tenant), by=by, key=key, email=email, document=document)

    def customer_models(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Each tenant's CLV model as last fitted (or why it is not fitted)."""
        tid = self.tenants.resolve(tenant)
        found = []
        for t in self.tenants.list():
            if tid is None or t.tenant_id == tid:
                m = answers.model(self.wh, t.tenant_id)
                if m is not None:
                    found.append({"tenant": t.tenant_name, **m})
        return found

    def customer_events(
        self,
        tenant: str | None = None,
        *,
        since: date | None = None,
        undelivered: bool = False,
        after: tuple[Any, ...] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Customer change events, oldest first; at most `limit` after the one keyed `after`
        (customers.events.event_key) when given."""
        hooks = self.settings.customers.webhook_url_envs if undelivered else None
        found = customer_events.events(
            self.wh, self.tenants.resolve(tenant), since=since, undelivered_to=hooks, after=after, limit=limit
        )
        return [event.public(name) for event, name in found]

    def deliver_customer_events(self, lock: AbstractContextManager[Any] | None = None) -> DeliverySummary:
        """One delivery round of customer change events (`[customers] webhook_url_envs`); `lock` as
        for deliver_notices."""
        with lock if lock is not None else nullcontext():
            self.upgrade()
        return self.customers.deliver(lock)

    def keep_customers(self, kind: RunKind = RunKind.STEP, tenant: str | None = None) -> list[CustomerRun]:
        """Keep the customers of every active tenant (or one) after a build (customers/desk.py); a
        tenant's failure is logged, never raised: the next build retries it."""
        if kind is not RunKind.STEP:
            self.upgrade()
            return (
                [self.customers.run(self.tenants.get(tenant), kind)]
                if tenant
                else [self.customers.run(t, kind) for t in self.tenants.list() if t.is_active]
            )
        targets = [self.tenants.get(tenant)] if tenant else [t for t in self.tenants.list() if t.is_active]
        return self.customers.after_build(targets)

    def recent_builds(self, limit: int = 20, after: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
        return builds.recent(self.wh, limit, after)

    def last_build(self) -> dict[str, Any] | None:
        return builds.last_build(self.wh)

    @property
    def dbt_project_dir(self) -> Path | None:
        """The dbt project of one's own (`[dbt] project_dir`) builds run instead of the shipped one."""
        value = self.settings.dbt.project_dir
        return Path(value).expanduser() if value else None

    def write_dbt_profiles(self, folder: Path, *, force: bool = False) -> Path:
        """profiles.yml (mode 0600) for plain dbt runs of a project of one's own (`ordersync dbt profiles`)."""
        return write_user_profiles(folder, self.wh.dbt_target(), force=force)

    # -- revision notices --------------------------------------------------------------------
    def deliver_notices(self, lock: AbstractContextManager[Any] | None = None) -> DeliverySummary:
        """POST every revision notice due; `lock` (serve's gate) is held while the warehouse is used."""
        with lock if lock is not None else nullcontext():
            self.upgrade()
        return notices.NoticeSender(lambda: self.wh, self.settings.revisions, self.clock, lock=lock).deliver()

    def list_notices(
        self,
        tenant: str | None = None,
        undelivered_only: bool = False,
        *,
        after: tuple[Any, ...] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Revision notices, newest first, each with its delivery state per webhook; at most `limit`
        after the one keyed `after` (revisions.notices.notice_key) when given."""
        tenant_id = self.tenants.resolve(tenant)
        names = list(dict.fromkeys(self.settings.revisions.webhook_url_envs))
        return notices.list_notices(self.wh, names, tenant_id, undelivered_only, after=after, limit=limit)

    # -- revisions ---------------------------------------------------------------------------
    def revenue(
        self,
        tenant: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
        as_of: datetime | None = None,
    ) -> asof.Revenue:
        """Daily revenue as the last build left it, or as known at `as_of`, exactly."""
        tenant_id = self.tenants.resolve(tenant)
        if as_of is None:
            return asof.current(self.wh, tenant_id=tenant_id, day_from=day_from, day_to=day_to)
        days = asof.Days(tenant_id, day_from, day_to)
        return asof.kept_as_of(self.wh, self.clock, self.settings.orders, as_of, self.past, days)

    def revenue_page(self, tenant: str | None, after: tuple[str, date, str] | None, limit: int) -> asof.Revenue:
        """One page of revenue as built, in tenant name, day and currency order."""
        return asof.current_page(self.wh, tenant_id=self.tenants.resolve(tenant), after=after, limit=limit)

    def revenue_diff(
        self,
        as_of: datetime,
        against: datetime | None = None,
        tenant: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
    ) -> list[asof.DayDiff]:
        """Every day whose revenue differs between `as_of` and `against` (default now), with its orders."""
        days = asof.Days(self.tenants.resolve(tenant), day_from, day_to)
        return asof.kept_diff(self.wh, self.clock, self.settings.orders, as_of, against, self.past_diffs, days)

    @property
    def plans(self) -> PlanDesk:
        """Backfill and restatement plans: draft, approve or reject, apply (revisions/desk.py)."""
        self.upgrade()
        return self._plan_desk()

    def _plan_desk(self) -> PlanDesk:
        build = partial(self.build, trigger="plan")
        return PlanDesk(lambda: self.wh, self.settings, self.clock, self.leases, build, run_async)

    def recent_plans(self) -> list[Plan]:
        """The plans, newest first (reads only: no migration)."""
        return PlanStore(self.wh).recent()

    def get_plan(self, plan_id: str) -> Plan:
        return PlanStore(self.wh).get(plan_id)

    def check_plan(self, plan_id: str) -> Plan:
        """The re-check `plan apply` makes, nothing applied (reads only): StalePlanError when it no longer holds."""
        return self._plan_desk().check(plan_id)

    # -- observe -----------------------------------------------------------------------------
    def table_exists(self, name: str) -> bool:
        return self.wh.has_table(name)

    def status(self, tenants: list[Tenant] | None = None) -> list[dict[str, Any]]:
        """Per tenant (every one, or those given): sync state (Current / Behind / Stale), last run and
        build, counts."""
        s = self.settings.sync
        budget, chosen = s.lateness_budget_days, self.tenants.list() if tenants is None else tenants
        counted, now = summaries.counted(self.wh, self.clock, self.keeper), self.clock.now()
        return tenant_status(self.wh, chosen, now, s.historical_direction, lateness_budget_days=budget, counted=counted)

    def progress(self) -> list[dict[str, Any]]:
        """Historical sync progress per tenant: range, frontier, share done, completion flag."""
        return tenant_progress(self.wh, self.tenants.list(), self.settings.sync.historical_direction)

    def gaps(self, days: int = 30, tenant: str | None = None) -> list[dict[str, Any]]:
        """Days where the warehouse holds fewer orders or less revenue than the source (asked live):
        every enabled tenant's, or the one named."""
        tenants = [self.tenants.get(tenant)] if tenant else self.tenants.list(enabled_only=True)
        return run_async(tenant_gaps(tenants, self.wh.fork, self.clock.now(), self.settings.sync, days))

    def lateness(self, tenant: str | None = None, days: int = 30) -> list[dict[str, Any]]:
        """Per tenant and order date over the last `days` order dates: versions by lateness (observe/lateness.py)."""
        lookback, budget = self.settings.dbt.lookback_days, self.settings.sync.lateness_budget_days
        tenants = self._tenants_named(tenant)
        kept = partial(summaries.lateness_rows, self.wh, summaries.counted(self.wh, self.clock, self.keeper).kept)
        return tenant_lateness(
            self.wh, tenants, self.clock.now(), days=days, lookback_days=lookback, budget_days=budget, kept=kept
        )

    def verify(self, tenant: str | None = None, days: int = 14, checks: Iterable[str] | None = None) -> VerifyReport:
        """The seed's verification, one result per check (`checks`: a subset of observe.verify.CHECKS); reads only."""
        wanted = parse_checks(checks)
        ctx = Context(lambda: self.wh, self.close, self.settings, self.clock.now(), self.dbt_project_dir)
        return run_checks(ctx, self._tenants_named(tenant), days=days, tenant_name=tenant, checks=wanted)
