"""The customers step of one tenant: after a build, under the tenant's `customers` lease, link the
orders the build wrote to customers, recompute exactly the customers they touched from whole
history, and write only real changes, with their events, in one transaction.

Kinds of run (cdp.customer_runs):
- step: the customers of the orders written since the last one caught up (`built_at`), before and
  after, and every key in a merge or split; scored at the tenant's scoring date;
- sweep: moves the scoring date to today (the tenant's zone) and re-scores every customer;
- full: re-links and re-scores every customer with the same parameters and date, and counts what
  it had to change (an incremental step that drifted): it must change nothing;
- refit: fits the tenant's CLV model again, then re-scores every customer with it.
A new RFM period (7 days) freezes new breakpoints and journey thresholds, and re-scores everyone.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ordersync.clock import Clock
from ordersync.config import Settings
from ordersync.coordination.leases import Fence, NoFence
from ordersync.customers import history, orders_rule, store
from ordersync.customers.clv_model import TimeUnit, readiness
from ordersync.customers.events import Event, EventKind
from ordersync.customers.events import write as write_events
from ordersync.customers.history import Facts
from ordersync.customers.identifiers import country_of_zone
from ordersync.customers.journey import compute_thresholds, purchase_intervals
from ordersync.customers.keys import IdentityKeys
from ordersync.customers.linking import Linked, link
from ordersync.customers.rfm import compute_breakpoints, period_start, track
from ordersync.customers.scoring import Scored, score
from ordersync.errors import LeaseLostError
from ordersync.outcomes import RunStatus
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync.customers")

_EPOCH = date(1970, 1, 1)
#: ISO 4217's "no currency": the main currency of a tenant without a purchase yet
NO_CURRENCY = "XXX"


class _Collector:
    """Python's cycle collector off while runs go on: a run makes millions of tuples (rows,
    identifiers) and no cycle, and each time they had grown by a quarter the collector walked them
    all again, with everything else the process holds (a tenth of a full recompute's CPU at the
    seed's scale). On again (if it was) as the last run ends."""

    lock = threading.Lock()
    runs = 0
    was_enabled = False

    @classmethod
    @contextmanager
    def paused(cls) -> Iterator[None]:
        with cls.lock:
            if cls.runs == 0:
                cls.was_enabled = gc.isenabled()
                gc.disable()
            cls.runs += 1
        try:
            yield
        finally:
            with cls.lock:
                cls.runs -= 1
                if cls.runs == 0 and cls.was_enabled:
                    gc.enable()


class RunKind(StrEnum):
    STEP = "step"
    SWEEP = "sweep"
    FULL = "full"
    REFIT = "refit"


@dataclass
class CustomerRun:
    tenant: str
    kind: RunKind
    run_id: str = field(default_factory=lambda: "cr_" + uuid.uuid4().hex[:16])
    status: RunStatus = RunStatus.RUNNING
    scoring_date: date | None = None
    customers: int = 0
    changes: int = 0
    events: int = 0
    findings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "kind": self.kind.value,
            "status": self.status.value,
            "scoring_date": self.scoring_date.isoformat() if self.scoring_date else None,
            "customers": self.customers,
            "changes": self.changes,
            "events": self.events,
            "findings": self.findings,
            "error": self.error,
        }


class CustomersStep:
    """Runs the customers of one tenant at a time; the caller holds the tenant's lease."""

    def __init__(self, wh: Warehouse, settings: Settings, clock: Clock, keys: IdentityKeys) -> None:
        self.wh = wh
        self.settings = settings
        self.cs = settings.customers
        self.clock = clock
        self.keys = keys
        #: every customer's facts of the run under way, by (tenant, date, currency)
        self._whole: dict[tuple[int, date, str | None], list[Facts]] = {}
        #: the lease of the run under way: it stops between its steps once a renewal found it lost
        self._fence: Fence = NoFence()
        #: what a purchase is for the run under way (customers/orders_rule.py)
        self._orders = settings.orders

    # -- entry points -------------------------------------------------------------------------------

    def run(self, tenant: Tenant, kind: RunKind = RunKind.STEP, fence: Fence | None = None) -> CustomerRun:
        """One run; failures are recorded and raised to the caller (which logs them: they never fail
        a build). On DuckDB with its default memory limit while it runs, as a build and migrations:
        one transaction writes a whole tenant's customers, and with the process's 48 MB even the
        first computation of 400 customers ran out of memory. Its one transaction commits only
        while `fence` (the tenant's `customers` lease) holds; a run that lost it stops, writing
        nothing, not even its failure (the tenant's run log is its new holder's)."""
        fence = fence or NoFence()
        self._fence = fence
        run = CustomerRun(tenant.tenant_name, kind)
        started = self.clock.now()
        log.info(
            "customers %s run of %s started",
            kind.value,
            tenant.tenant_name,
            extra={"tenant": tenant.tenant_name, "run_id": run.run_id},
        )
        try:
            # a run reads every customer's whole history in one query (history.facts) inside the
            # transaction holding the links it has just written: on DuckDB it needs a build's
            # memory (with the 48 MB default most runs of a 160-customer tenant ran out of it)
            with _Collector.paused(), self.wh.building(), fence.lasting_transaction(self.wh):
                self._run(tenant, run)
                if run.status is RunStatus.RUNNING:  # a step with nothing to do is not recorded
                    run.status = RunStatus.SUCCEEDED
                    self._record(tenant, run, started)
        except LeaseLostError:
            run.status = RunStatus.FAILED
            raise
        except Exception as exc:
            run.status, run.error = RunStatus.FAILED, str(exc)
            self._record(tenant, run, started)
            raise
        return run

    def due(self, tenant: Tenant) -> list[RunKind]:
        """What the clock asks of the tenant now, besides a step: the daily sweep past `sweep_hour`
        (local), a refit every `refit_days`, a full recompute every `full_recompute_days`."""
        st = store.state(self.wh, tenant.tenant_id)
        if st.initialised_at is None:
            return []
        now = self.clock.now().astimezone(tenant.tz)
        kinds = []
        if now.hour >= self.cs.sweep_hour and (st.scoring_date is None or st.scoring_date < now.date()):
            kinds.append(RunKind.SWEEP)
        model = store.latest_model(self.wh, tenant.tenant_id)
        if model is None or (now.date() - model.fit_date).days >= self.cs.refit_days:
            kinds.append(RunKind.REFIT)
        if st.last_full_at is None or (self.clock.now() - st.last_full_at).days >= self.cs.full_recompute_days:
            kinds.append(RunKind.FULL)
        return kinds

    # -- one run ------------------------------------------------------------------------------------

    def _today(self, tenant: Tenant) -> date:
        return self.clock.now().astimezone(tenant.tz).date()

    def _run(self, tenant: Tenant, run: CustomerRun) -> None:
        self._whole = {}
        tid = tenant.tenant_id
        st = store.state(self.wh, tid)
        first = st.initialised_at is None
        used = orders_rule.in_force(self.wh, tid, self.settings.orders)
        self._orders = used.settings
        on = st.scoring_date if st.scoring_date is not None and run.kind is not RunKind.SWEEP else self._today(tenant)
        run.scoring_date = on
        country = tenant.country or country_of_zone(tenant.timezone)
        whole = first or run.kind is not RunKind.STEP or used.adopting is not None
        since = None if run.kind is RunKind.FULL else st.caught_up_to
        history.fresh_statistics(self.wh)
        changed, high = history.changed_orders(self.wh, tid, since)
        vanished = history.vanished_orders(self.wh, tid)
        if run.kind is RunKind.STEP and not first and not changed and not vanished and used.adopting is None:
            run.status = RunStatus.SKIPPED
            return
        linked = link(
            self.wh,
            tid,
            changed,
            vanished,
            keys=self.keys,
            country=country,
            max_platform_ids=self.cs.max_platform_ids,
            whole=since is None,  # every order of the tenant
        )
        self._fence.raise_if_lost()  # stop early: nothing it does from here on could be kept
        # the period's parameters, main currency included: every customer of the period is scored
        # with the same ones (frozen again only once a tenant without purchases has some)
        frozen = store.frozen_for(self.wh, tid, period_start(on, self.cs.rfm_period_days))
        if frozen is None or frozen.breakpoints.customers == 0:
            found = history.main_currency(self.wh, self.wh.dialect, self._orders, tid)
            if frozen is None or found is not None:
                frozen = self._freeze(tid, on, found)
                whole = True
        currency = None if frozen.breakpoints.currency == NO_CURRENCY else frozen.breakpoints.currency
        if run.kind is RunKind.REFIT or store.latest_model(self.wh, tid) is None:
            self._refit(tid, on, currency)
            whole = True
        model = store.latest_model(self.wh, tid)
        keys = None if whole else sorted(linked.dirty)
        facts = self._facts(tid, on, currency, keys)
        scored = score(
            facts,
            on,
            currency=currency,
            breakpoints=frozen.breakpoints,
            thresholds=frozen.thresholds,
            model=model.model if model and model.ready else None,
            monthly_discount_rate=self.cs.monthly_discount_rate,
            p_alive_gating=self.cs.p_alive_gating,
        )
        self._fence.raise_if_lost()
        present = {f.customer_key for f in facts}
        gone = sorted(linked.dirty - present) if keys is not None else self._all_keys(tid) - present
        events = self._link_events(tid, linked, on, first)
        run.customers = len(facts)
        run.changes, more = self._write(
            tid, scored, keys, sorted(gone), on, frozen.version, model.version if model else None, first
        )
        events += more
        run.events = write_events(self.wh, events, run.run_id, self.clock.now())
        if run.kind is RunKind.FULL:
            run.findings = {"changed_rows": run.changes, "ok": run.changes == 0}
        if used.adopting is not None:
            run.findings["orders_settings_from_plan"] = used.adopting
        now = self.clock.now()
        orders_rule.record(self.wh, tid, used, now)
        store.save_state(
            self.wh,
            replace(
                st,
                caught_up_to=high
                if high is not None and (st.caught_up_to is None or high > st.caught_up_to)
                else st.caught_up_to,
                scoring_date=on,
                last_sweep_date=on if run.kind is RunKind.SWEEP else st.last_sweep_date,
                # a tenant's first computation is a full one: the next is due full_recompute_days on
                last_full_at=now if run.kind is RunKind.FULL or first else st.last_full_at,
                initialised_at=st.initialised_at or now,
            ),
        )

    def _facts(self, tenant_id: int, on: date, currency: str | None, keys: list[str] | None = None) -> list[Facts]:
        """The customers' aggregates at `on`; every customer's are read once a run (freezing,
        fitting and scoring a whole tenant share them)."""
        memo = (tenant_id, on, currency)
        if keys is None and memo in self._whole:
            return self._whole[memo]
        found = history.facts(
            self.wh,
            self.wh.dialect,
            self._orders,
            tenant_id,
            keys=keys,
            scoring_date=on,
            window_days=self.cs.rfm_window_days,
            currency=currency,
        )
        if keys is None:
            self._whole = {memo: found}
        return found

    def _all_keys(self, tenant_id: int) -> set[str]:
        rows = self.wh.query("SELECT customer_key FROM cdp.customer_profiles WHERE tenant_id = ?", (tenant_id,))
        return {str(r[0]) for r in rows}

    # -- frozen parameters --------------------------------------------------------------------------

    def _freeze(self, tenant_id: int, on: date, currency: str | None) -> store.Frozen:
        """The period's breakpoints and thresholds, from every customer with a purchase, at `on`."""
        start = period_start(on, self.cs.rfm_period_days)
        facts = self._facts(tenant_id, on, currency)
        buyers = [f for f in facts if f.last_purchase_day is not None]
        breakpoints = compute_breakpoints(
            start,
            [(on - f.last_purchase_day).days for f in buyers if f.last_purchase_day is not None],
            [float(f.window_revenue) for f in buyers],
            currency=currency or NO_CURRENCY,
            window_days=self.cs.rfm_window_days,
            min_customers=self.cs.min_customers_for_quantiles,
        )
        who, days = history.purchase_rows(self.wh, self.wh.dialect, self._orders, tenant_id, on)
        if who:
            intervals, seconds = purchase_intervals(who, [(d - _EPOCH).days for d in days])
            thresholds = compute_thresholds(start, intervals, seconds)
        else:
            thresholds = compute_thresholds(start, [], [])
        frozen = store.Frozen(breakpoints, thresholds)
        store.save_frozen(self.wh, tenant_id, frozen, self.clock.now())
        return frozen

    def _refit(self, tenant_id: int, on: date, currency: str | None) -> None:
        """Fit the tenant's CLV model on its history up to `on` (calibration ends there), or record
        why it cannot be fitted yet."""
        unit = TimeUnit(self.cs.time_unit)
        facts = self._facts(tenant_id, on, currency)
        payers = [f for f in facts if f.money_first_day is not None and f.money_last_day is not None]
        first_day = min((f.money_first_day for f in payers if f.money_first_day is not None), default=on)
        history_days = (on - first_day).days
        repeat = sum(1 for f in payers if f.money_days > 1)
        reason = readiness(
            history_days, repeat, min_history_days=self.cs.min_history_days, min_repeat_buyers=self.cs.min_repeat_buyers
        )
        report: dict[str, Any] = {"customers": len(payers), "repeat_buyers": repeat, "history_days": history_days}
        model = None
        if reason is None:
            from ordersync.customers.clv import summarize  # numpy and scipy: only when a model is fitted
            from ordersync.customers.clv_fit import fit as fit_clv

            summary = summarize(
                [(f.money_first_day - _EPOCH).days for f in payers if f.money_first_day is not None],
                [(f.money_last_day - _EPOCH).days for f in payers if f.money_last_day is not None],
                [f.money_days for f in payers],
                [float(f.repeat_revenue) for f in payers],
                (on - _EPOCH).days,
                unit.days,
            )
            model = fit_clv(summary, unit)
            report = json.loads(json.dumps(model.as_dict()["report"], default=str))
        content = json.dumps(
            {"model": model.as_dict() if model else None, "reason": reason, "on": on.isoformat()},
            sort_keys=True,
            default=str,
        )
        version = "clv_" + hashlib.sha256(content.encode()).hexdigest()[:16]
        store.save_model(
            self.wh,
            tenant_id,
            store.StoredModel(version, on, reason is None, reason, model, report),
            unit.value,
            self.clock.now(),
        )

    # -- writing ------------------------------------------------------------------------------------

    def _link_events(self, tenant_id: int, linked: Linked, on: date, initial: bool) -> list[Event]:
        res = linked.resolution
        if res is None:
            return []
        found = [
            Event(
                tenant_id,
                m.surviving,
                EventKind.CUSTOMER_MERGED,
                ",".join(sorted(m.absorbed)),
                m.surviving,
                on,
                initial,
            )
            for m in res.merges
        ]
        found += [
            Event(tenant_id, s.old_key, EventKind.CUSTOMER_SPLIT, s.old_key, ",".join(sorted(s.new_keys)), on, initial)
            for s in res.splits
        ]
        return found

    def _write(
        self,
        tenant_id: int,
        scored: Scored,
        keys: list[str] | None,
        gone: list[str],
        on: date,
        frozen_version: str,
        model_version: str | None,
        initial: bool,
    ) -> tuple[int, list[Event]]:
        """Write what changed; (rows changed, segment and stage events)."""
        wh = self.wh
        now = self.clock.now()
        changes = 0
        events: list[Event] = []
        store.delete_keys(wh, tenant_id, gone)
        changes += len(gone)

        old_profiles = store.profiles(wh, tenant_id, keys)
        rows = [
            (p.customer_key, *store.profile_values(p), now)
            for p in scored.profiles
            if p.customer_key not in old_profiles
            or not store.same(old_profiles[p.customer_key], store.profile_values(p))
        ]
        store.replace(wh, tenant_id, "customer_profiles", _PROFILE_TYPES, rows)
        changes += len(rows)

        old_rfm = store.rfm_rows(wh, tenant_id, keys)
        rfm_rows = []
        for r in scored.rfm:
            stored = old_rfm.get(r.customer_key)
            values = store.rfm_values(r)
            seg = track(store.segment_state(stored), r.segment, on) if r.segment is not None else None
            if seg is not None and seg.changed:
                events.append(
                    Event(
                        tenant_id,
                        r.customer_key,
                        EventKind.SEGMENT_CHANGED,
                        seg.state.previous.value if seg.state.previous else None,
                        seg.state.current.value,
                        on,
                        initial,
                    )
                )
            if stored is not None and store.same(stored[:7], values) and stored[9] == frozen_version:
                continue
            prev = seg.state.previous.value if seg and seg.state.previous else None
            rfm_rows.append(
                (r.customer_key, *values, prev, seg.state.changed_at if seg else None, frozen_version, on, now)
            )
        scored_keys, gone_keys = {r.customer_key for r in scored.rfm}, set(gone)
        stale = [k for k in old_rfm if k not in scored_keys and k not in gone_keys]
        store.delete_rows(wh, tenant_id, "customer_rfm", stale)  # no purchase left: no scores
        store.replace(wh, tenant_id, "customer_rfm", _RFM_TYPES, rfm_rows)
        changes += len(rfm_rows) + len(stale)

        old_clv = store.clv_rows(wh, tenant_id, keys)
        clv_rows = [
            (c.customer_key, *store.clv_values(c), model_version, on, now)
            for c in scored.clv
            if c.customer_key not in old_clv
            or not store.same(old_clv[c.customer_key][:6], store.clv_values(c))
            or old_clv[c.customer_key][6] != model_version
        ]
        valued = {c.customer_key for c in scored.clv}
        stale = [k for k in old_clv if k not in valued and k not in gone_keys]
        store.delete_rows(wh, tenant_id, "customer_clv", stale)
        store.replace(wh, tenant_id, "customer_clv", _CLV_TYPES, clv_rows)
        changes += len(clv_rows) + len(stale)

        old_stages = store.journey_rows(wh, tenant_id, keys)
        journey_rows = []
        for key, stage in scored.stages.items():
            change = track(old_stages.get(key), stage, on)
            if not change.changed:
                continue
            st = change.state
            events.append(
                Event(
                    tenant_id,
                    key,
                    EventKind.STAGE_CHANGED,
                    st.previous.value if st.previous else None,
                    st.current.value,
                    on,
                    initial,
                )
            )
            journey_rows.append(
                (key, st.current.value, st.previous.value if st.previous else None, st.changed_at, on, now)
            )
        store.replace(wh, tenant_id, "customer_journey", _JOURNEY_TYPES, journey_rows)
        changes += len(journey_rows)
        return changes, events

    def _record(self, tenant: Tenant, run: CustomerRun, started: datetime) -> None:
        self.wh.execute(
            "INSERT INTO cdp.customer_runs (tenant_id, run_id, kind, status, started_at, finished_at, scoring_date, "
            "customers, changes, findings, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant_id, run_id) DO UPDATE SET status = excluded.status, finished_at = "
            "excluded.finished_at, error = excluded.error",
            (
                tenant.tenant_id,
                run.run_id,
                run.kind.value,
                run.status.value,
                started,
                self.clock.now(),
                run.scoring_date,
                run.customers,
                run.changes,
                json.dumps(run.findings, sort_keys=True),
                run.error,
            ),
        )


_PROFILE_TYPES = [
    ("customer_key", "TEXT"),
    ("orders", "INTEGER"),
    ("purchases", "INTEGER"),
    ("purchase_days", "INTEGER"),
    ("first_purchase_at", "TIMESTAMPTZ"),
    ("last_purchase_at", "TIMESTAMPTZ"),
    ("net_revenue", "NUMERIC(20, 2)"),
    ("average_order_value", "NUMERIC(20, 2)"),
    ("currency_code", "TEXT"),
    ("preferred_sales_channel", "TEXT"),
    ("last_status", "TEXT"),
    ("updated_at", "TIMESTAMPTZ"),
]
_RFM_TYPES = [
    ("customer_key", "TEXT"),
    ("recency_days", "INTEGER"),
    ("frequency", "INTEGER"),
    ("monetary", "NUMERIC(20, 2)"),
    ("r_score", "INTEGER"),
    ("f_score", "INTEGER"),
    ("m_score", "INTEGER"),
    ("segment", "TEXT"),
    ("previous_segment", "TEXT"),
    ("segment_changed_at", "DATE"),
    ("breakpoints_version", "TEXT"),
    ("scored_for", "DATE"),
    ("updated_at", "TIMESTAMPTZ"),
]
_CLV_TYPES = [
    ("customer_key", "TEXT"),
    ("p_alive", "DOUBLE PRECISION"),
    ("expected_30d", "DOUBLE PRECISION"),
    ("expected_90d", "DOUBLE PRECISION"),
    ("expected_365d", "DOUBLE PRECISION"),
    ("expected_spend", "NUMERIC(20, 2)"),
    ("clv_12m", "NUMERIC(20, 2)"),
    ("model_version", "TEXT"),
    ("scored_for", "DATE"),
    ("updated_at", "TIMESTAMPTZ"),
]
_JOURNEY_TYPES = [
    ("customer_key", "TEXT"),
    ("stage", "TEXT"),
    ("previous_stage", "TEXT"),
    ("stage_changed_at", "DATE"),
    ("scored_for", "DATE"),
    ("updated_at", "TIMESTAMPTZ"),
]
