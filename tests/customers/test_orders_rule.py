"""A change of [orders] (what a purchase is) reaches customers through its restatement plan, once
applied, as it reaches revenue: until then every customer keeps being scored under the settings the
tenant's customers were computed with; the first run after the plan is applied scores the whole
tenant under the new ones. Builds are stood in for (customers/standins.py), on both warehouses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from customers.standins import NOW, standin_app, write_orders
from ordersync.clock import ManualClock
from ordersync.config import DEFAULT_INVALID_STATUSES
from ordersync.customers.step import CustomerRun, RunKind
from ordersync.facade import Ordersync
from ordersync.revisions.drafting import BACKFILL, RESTATE, settings_hash
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore

ORDER = {"value": "50.00", "currency": "BRL", "document": None, "withdrawn": False, "email": None}
#: the new rule: an order on hold is no purchase any more
STRICTER = {"orders": {"invalid_statuses": [*DEFAULT_INVALID_STATUSES, "on-hold"]}}


def purchases(app: Ordersync) -> dict[str, int]:
    """Purchases by the customer's platform id."""
    rows = app.wh.query(
        "SELECT i.value, p.purchases FROM cdp.customer_profiles p JOIN cdp.customer_orders o "
        "ON o.tenant_id = p.tenant_id AND o.customer_key = p.customer_key JOIN cdp.customer_identifiers i "
        "ON i.tenant_id = o.tenant_id AND i.order_id = o.order_id AND i.kind = 'platform'"
    )
    return {str(r[0]): int(r[1]) for r in rows}


def step(app: Ordersync, kind: RunKind) -> CustomerRun:
    return app.customers.run(app.tenants.get("shop"), kind)


def plan(app: Ordersync, kind: str, orders_settings: str) -> str:
    """An applied plan covering the tenant, drafted under `orders_settings` (a settings hash)."""
    tid = app.tenants.get("shop").tenant_id
    store = PlanStore(app.wh)
    plan_id = f"p-{kind}-{orders_settings[:6]}"
    scope = {"tenants": ["shop"], "tenant_ids": [tid], "from": "2026-11-01", "to": "2026-12-01"}
    body: dict[str, Any] = {"kind": kind, "orders_settings": orders_settings, "days": [], "orders": []}
    store.save(Plan(plan_id, kind, DRAFTED, "author", NOW, scope, body, ""), [])
    store.mark_applied(plan_id, "reviewer", NOW)
    return plan_id


def test_a_changed_rule_waits_for_its_applied_restatement_then_rescores_the_whole_tenant(
    warehouse_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(NOW)
    with standin_app(warehouse_url, clock) as app:
        write_orders(
            app,
            [
                {**ORDER, "order": 1, "days_ago": 30, "customer_id": "u-held", "status": "on-hold"},
                {**ORDER, "order": 2, "days_ago": 20, "customer_id": "u-paid", "status": "invoiced"},
            ],
            NOW,
        )
        step(app, RunKind.STEP)
        assert purchases(app) == {"u-held": 1, "u-paid": 1}

    clock.set(NOW + timedelta(hours=1))
    with standin_app(warehouse_url, clock, **STRICTER) as app:
        # a build touching u-held's customer: still scored under the rule in force, no plan applied yet
        write_orders(
            app, [{**ORDER, "order": 3, "days_ago": 2, "customer_id": "u-held", "status": "invoiced"}], clock.now()
        )
        step(app, RunKind.STEP)
        assert purchases(app) == {"u-held": 2, "u-paid": 1}
        # a backfill, or a restatement drafted under other settings, does not bring the rule in
        plan(app, BACKFILL, settings_hash(app.settings.orders))
        plan(app, RESTATE, "0123456789abcdef")
        assert step(app, RunKind.STEP).status.value == "skipped"
        assert purchases(app) == {"u-held": 2, "u-paid": 1}
        # the restatement drafted under the new rule, applied: the next run adopts it for everyone
        adopted = plan(app, RESTATE, settings_hash(app.settings.orders))
        adopting = step(app, RunKind.STEP)
        assert adopting.findings["orders_settings_from_plan"] == adopted
        assert purchases(app) == {"u-held": 1, "u-paid": 1}  # its on-hold order is no purchase now
        kept = app.wh.query_one("SELECT settings_hash, plan_id FROM cdp.customer_orders_settings")
        assert kept == (settings_hash(app.settings.orders), adopted)
        # adopted once: a full recompute under the same rule finds nothing to change
        full = step(app, RunKind.FULL)
        assert full.findings["ok"] and "orders_settings_from_plan" not in full.findings
