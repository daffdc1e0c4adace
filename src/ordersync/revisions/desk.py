"""The plan desk: draft, review and apply backfill and restatement plans.

Apply, in one transaction under each tenant's "plan" lease: re-check that the plan still holds for
what it is about (the orders it would change still have the fct_orders row and the newest landed
version they had when drafted; a restatement's days still hold the same orders' versions; the
[orders] settings are the same), land the versions the plan read from the source, record the days
to re-merge and recompute (cdp.pending_restatements) and mark the plan applied. Then a build does
the re-merge and the recomputation; a build stopped half-way leaves them to the next build, so a
plan applies whole or not at all. Applying an applied plan whose days still wait for a build runs
that build; applying it once they were built changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ordersync.config import Settings
from ordersync.coordination.leases import Fence
from ordersync.errors import ConfigError, RefusedError, StalePlanError, TenantBusyError
from ordersync.land.intake import Intake, Item
from ordersync.land.records import order_id_of, parse_order
from ordersync.revisions import drafting
from ordersync.revisions.effects import current_of, current_rows, landed_of, newest
from ordersync.revisions.plans import APPLIED, APPROVED, DRAFTED, REJECTED, Plan, PlanStore, new_plan_id
from ordersync.sync import reconcile
from ordersync.tenants import Tenant, TenantStore
from ordersync.transform import restatements

if TYPE_CHECKING:
    from ordersync.clock import Clock
    from ordersync.coordination.leases import Lease, LeaseKeeper
    from ordersync.warehouse import Warehouse

#: The lease stream a plan's apply holds per tenant.
STREAM = "plan"


@dataclass
class ApplyOutcome:
    plan_id: str
    applied: bool  # False: it was applied before, and nothing changed now
    versions_landed: int = 0
    build_error: str | None = None
    matches_plan: bool | None = None
    mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "applied": self.applied,
            "versions_landed": self.versions_landed,
            "build_error": self.build_error,
            "matches_plan": self.matches_plan,
            "mismatches": self.mismatches,
        }


class PlanDesk:
    def __init__(
        self,
        wh: Callable[[], Warehouse],
        settings: Settings,
        clock: Clock,
        leases: Callable[[], LeaseKeeper],
        build: Callable[[], object],
        run_async: Callable[[Any], Any],
    ) -> None:
        self._wh, self.settings, self.clock = wh, settings, clock
        self._leases, self._build, self._run_async = leases, build, run_async

    @property
    def wh(self) -> Warehouse:
        return self._wh()  # the facade reopens DuckDB after a build: always ask it

    @property
    def store(self) -> PlanStore:
        return PlanStore(self.wh)

    # -- draft ---------------------------------------------------------------------------------
    def recent_days(self, tenants: list[Tenant], days: int) -> tuple[date, date]:
        """(first, last) of the last `days` days complete for every tenant, each in its own time
        zone (reconcile.last_complete_days): a plan's days when none are named."""
        if days < 1:
            raise ConfigError(f"days must be at least 1 (got {days})")
        lag, now = self.settings.sync.index_lag_minutes, self.clock.now()
        zones = {t.tz for t in tenants} or {ZoneInfo("UTC")}
        last = min(reconcile.last_complete_days(now, 1, tz, lag)[0] for tz in zones)
        return last - timedelta(days=days - 1), last

    def draft(
        self,
        tenants: list[Tenant],
        day_from: date,
        day_to: date,
        *,
        author: str | None,
        restate: bool = False,
        refetch: bool = False,
    ) -> Plan:
        if self.settings.environment.is_production and not (author or "").strip():
            raise RefusedError("in production a plan names its author: add --by NAME")
        drafting.day_list(day_from, day_to)
        if not tenants:
            raise ConfigError("no tenant to plan for: add one with `ordersync tenants add`")
        kind = drafting.RESTATE if restate else drafting.BACKFILL
        days: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        versions: list[tuple[int, str, str, str]] = []
        notes: list[str] = []
        for tenant in tenants:
            read = None
            if kind == drafting.BACKFILL:
                if not drafting.has_source(tenant):
                    notes.append(
                        f"{tenant.tenant_name}: no source to ask (platform {tenant.platform}): nothing to backfill; "
                        "a restatement plan (--restate) recomputes its days"
                    )
                    continue
                read = self._run_async(
                    drafting.read_source(tenant, self.settings.sync, self.wh, day_from, day_to, refetch)
                )
                for oid, reason in read.unreadable:
                    notes.append(f"{tenant.tenant_name}: order {oid} could not be read from the source ({reason})")
            t_days, t_changes, t_versions = drafting.tenant_effect(
                self.wh, self.settings.orders, tenant, day_from, day_to, read
            )
            days += t_days
            changes += t_changes
            versions += t_versions
        now = self.clock.now().astimezone(UTC)
        scope = {
            "tenants": [t.tenant_name for t in tenants],
            "tenant_ids": [t.tenant_id for t in tenants],
            "from": day_from.isoformat(),
            "to": day_to.isoformat(),
        }
        plan_id = new_plan_id()
        body = {
            "plan_id": plan_id,
            "kind": kind,
            "author": author,
            "drafted_at": now.isoformat(),
            "environment": self.settings.environment.name,
            "orders_settings": drafting.settings_hash(self.settings.orders),
            "days": days,
            "orders": changes,
            "notes": notes,
            "totals": drafting.totals(days, changes, len(versions)),
        }
        plan = Plan(plan_id, kind, DRAFTED, author, now, scope, body, "")
        self.store.save(plan, versions)
        return self.store.get(plan_id)

    # -- review --------------------------------------------------------------------------------
    def approve(self, plan_id: str, by: str) -> Plan:
        plan = self.store.get(plan_id)
        if self.settings.environment.is_production and _same(plan.author, by):
            raise RefusedError(f"plan {plan_id} was drafted by {plan.author}: in production someone else approves it")
        return self.store.review(plan_id, APPROVED, by, self.clock.now())

    def reject(self, plan_id: str, by: str) -> Plan:
        return self.store.review(plan_id, REJECTED, by, self.clock.now())

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, plan_id: str, by: str | None = None) -> ApplyOutcome:
        plan = self.store.get(plan_id)
        if plan.status == APPLIED:
            if not any(r.plan_id == plan_id for r in restatements.pending(self.wh)):
                return ApplyOutcome(plan_id, applied=False)
            # applied, but the build after it stopped (killed, failed): finish it now, as the next build would
            return self._build_and_check(plan, ApplyOutcome(plan_id, applied=True))
        if plan.status == REJECTED:
            raise RefusedError(f"plan {plan_id} was rejected by {plan.reviewed_by}: draft a new one")
        if self.settings.environment.is_production:
            if plan.status != APPROVED:
                raise RefusedError(
                    f"plan {plan_id} is not approved: in production a plan applies only once someone other "
                    f"than its author approved it (`ordersync plan approve {plan_id} --by NAME`)"
                )
            if _same(plan.author, plan.reviewed_by):
                raise RefusedError(f"plan {plan_id} was approved by its own author: someone else must approve it")
        self._check_settings(plan)
        tenants = [TenantStore(self.wh).by_id(int(t)) for t in plan.scope["tenant_ids"]]
        keeper = self._leases()
        held: list[Lease] = []
        try:
            fences = {}
            for t in tenants:
                lease = keeper.acquire(t.tenant_id, STREAM)
                if lease is None:
                    raise TenantBusyError(f"another plan is being applied to {t.tenant_name}: try again when it ends")
                held.append(lease)
                fences[t.tenant_id] = lease
            landed = self._apply_transaction(plan, tenants, fences, by)
        finally:
            for lease in held:
                keeper.release(lease)
        return self._build_and_check(plan, ApplyOutcome(plan_id, applied=True, versions_landed=landed))

    def check(self, plan_id: str) -> Plan:
        """The re-check `apply` makes before it lands anything, without applying: StalePlanError when
        the plan no longer holds (its orders or days changed, or the [orders] settings did)."""
        plan = self.store.get(plan_id)
        self._check_settings(plan)
        self._check_fresh(self.wh, plan, date.fromisoformat(plan.scope["from"]), date.fromisoformat(plan.scope["to"]))
        return plan

    def _check_settings(self, plan: Plan) -> None:
        if plan.body.get("orders_settings") != drafting.settings_hash(self.settings.orders):
            raise StalePlanError(
                f"plan {plan.plan_id} was drafted with other [orders] settings: draft it again "
                "(`ordersync backfill plan ...`) and review the new one"
            )

    def _build_and_check(self, plan: Plan, outcome: ApplyOutcome) -> ApplyOutcome:
        try:
            self._build()
        except Exception as exc:  # the plan is applied; the next build (or apply) finishes its re-merge
            outcome.build_error = (
                f"{exc} (the plan is applied and its days wait in cdp.pending_restatements: "
                f"the next `ordersync build` or `ordersync plan apply {plan.plan_id}` re-merges and recomputes them)"
            )
            return outcome
        outcome.mismatches = self._check_result(plan)
        outcome.matches_plan = not outcome.mismatches
        self.store.record_result(plan.plan_id, outcome.as_dict())
        return outcome

    def _apply_transaction(self, plan: Plan, tenants: list[Tenant], leases: dict[int, Lease], by: str | None) -> int:
        wh = self.wh
        store = PlanStore(wh)
        stored = store.versions(plan.plan_id)
        day_from = date.fromisoformat(plan.scope["from"])
        day_to = date.fromisoformat(plan.scope["to"])
        intake = Intake(wh, self.clock)
        landed = 0
        with wh.transaction():
            self._check_fresh(wh, plan, day_from, day_to)
            for t in tenants:
                items = [Item(payload.encode("utf-8")) for tid, _, _, payload in stored if tid == t.tenant_id]
                if items:
                    result = intake.land_items(
                        t.tenant_id,
                        t.tz,
                        items,
                        "backfill",
                        plan.plan_id,
                        parse=lambda item, tz: parse_order(item.raw, tz),
                        order_id_of=order_id_of,
                        fence=Fence(leases[t.tenant_id], wh),
                    )
                    landed += result.landed
            restatements.add(
                wh,
                [
                    restatements.Restatement(
                        plan.plan_id, t.tenant_id, day_from, day_to, remerge=plan.kind == drafting.BACKFILL
                    )
                    for t in tenants
                ],
                self.clock.now(),
            )
            if not store.mark_applied(plan.plan_id, by, self.clock.now()):
                raise StalePlanError(f"plan {plan.plan_id} was applied meanwhile by another process")
        return landed

    def _check_fresh(self, wh: Warehouse, plan: Plan, day_from: date, day_to: date) -> None:
        stale: list[str] = []
        by_tenant: dict[int, list[dict[str, Any]]] = {}
        for change in plan.body.get("orders", []):
            by_tenant.setdefault(int(change["tenant_id"]), []).append(change)
        for tid, changes in by_tenant.items():
            ids = [c["order_id"] for c in changes]
            current = current_of(wh, tid, ids)
            landed = landed_of(wh, tid, ids)
            for c in changes:
                now_row = current.get(c["order_id"])
                before = c["before"]["payload_hash"] if c["before"] else None
                top = newest(landed.get(c["order_id"], []))
                if (now_row.payload_hash if now_row else None) != before or (top.payload_hash if top else None) != c[
                    "landed_latest"
                ]:
                    stale.append(c["order_id"])
        if plan.kind == drafting.RESTATE:
            for day in plan.body.get("days", []):
                held = [r for r in current_rows(wh, int(day["tenant_id"]), day_from, day_to).values()]
                on_day = [r for r in held if r.order_date.isoformat() == day["day"]]
                if drafting.day_fingerprint(on_day) != day["fingerprint"]:
                    stale.append(f"{day['tenant']} {day['day']}")
        if stale:
            shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            raise StalePlanError(
                f"plan {plan.plan_id} is stale: what it is about changed since it was drafted ({shown}); "
                "draft it again and review the new plan"
            )

    def _check_result(self, plan: Plan) -> list[str]:
        """Where the warehouse after apply differs from what the plan said."""
        wh = self.wh
        out: list[str] = []
        for day in plan.body.get("days", []):
            rows = wh.query(
                "SELECT currency_code, revenue FROM cdp.revenue_daily WHERE tenant_id = ? AND order_date = ? "
                "AND orders > 0",
                (int(day["tenant_id"]), date.fromisoformat(day["day"])),
            )
            got = {str(c): str(Decimal(r).quantize(Decimal("0.01"))) for c, r in rows}
            if got != day["revenue_after"]:
                out.append(f"{day['tenant']} {day['day']}: revenue {got} where the plan said {day['revenue_after']}")
        for c in plan.body.get("orders", []):
            row = current_of(wh, int(c["tenant_id"]), [c["order_id"]]).get(c["order_id"])
            if row is None or row.payload_hash != c["after"]["payload_hash"]:
                out.append(f"order {c['order_id']}: fct_orders holds another version than the plan said")
        return out


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold() and bool((a or "").strip())
