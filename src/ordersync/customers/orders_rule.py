"""Which [orders] settings a tenant's customers are scored under: what a purchase is.

revenue_daily takes a change of [orders] through a restatement plan: drafted under the new settings,
reviewed, applied. Customers follow the same path: a tenant's customers keep the settings they were
first computed under (kept in cdp.customer_orders_settings) until a restatement plan covering the
tenant, drafted under the current settings, has been applied; the next run then adopts them and
scores the whole tenant again. Until then a changed setting moves nobody, so a half-rescored tenant
(the customers touched since the change under new rules, the others under old) never exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ordersync.config import OrdersSettings
from ordersync.revisions.drafting import RESTATE, settings_hash
from ordersync.revisions.plans import PlanStore
from ordersync.warehouse import Warehouse


@dataclass(frozen=True)
class InForce:
    settings: OrdersSettings
    #: the applied plan whose settings this run adopts (the whole tenant is scored again), else None
    adopting: str | None = None
    #: nothing recorded yet: the run records the settings it used
    first: bool = False


def in_force(wh: Warehouse, tenant_id: int, current: OrdersSettings) -> InForce:
    row = wh.query_one(
        "SELECT settings, settings_hash FROM cdp.customer_orders_settings WHERE tenant_id = ?", (tenant_id,)
    )
    if row is None:
        return InForce(current, first=True)
    wanted = settings_hash(current)
    if str(row[1]) == wanted:
        return InForce(current)
    for plan in PlanStore(wh).applied_for(tenant_id):
        if plan.kind == RESTATE and plan.body.get("orders_settings") == wanted:
            return InForce(current, adopting=plan.plan_id)
    return InForce(OrdersSettings.model_validate_json(str(row[0])))


def record(wh: Warehouse, tenant_id: int, used: InForce, now: datetime) -> None:
    """Keep the settings a run used when it was the first or adopted them (inside its transaction)."""
    if not (used.first or used.adopting):
        return
    wh.execute(
        "INSERT INTO cdp.customer_orders_settings (tenant_id, settings, settings_hash, plan_id, adopted_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, "
        "settings_hash = excluded.settings_hash, plan_id = excluded.plan_id, adopted_at = excluded.adopted_at",
        (tenant_id, used.settings.model_dump_json(), settings_hash(used.settings), used.adopting, now),
    )
