"""cdp.pending_restatements: the days an applied plan left for the builds to re-merge and recompute.

Apply writes them in its own transaction, together with the versions it lands; a build reads them
before it starts, passes them to dbt (vars `remerge` and `restate`) and deletes the ones it read
only after it succeeded, so a build killed half-way leaves them to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ordersync.dates import as_day
from ordersync.warehouse import Warehouse


@dataclass(frozen=True)
class Restatement:
    plan_id: str
    tenant_id: int
    day_from: date
    day_to: date
    remerge: bool

    def as_range(self) -> list[object]:
        return [self.tenant_id, self.day_from.isoformat(), self.day_to.isoformat()]


def add(wh: Warehouse, items: list[Restatement], now: datetime) -> None:
    """Record `items` (call inside the apply's transaction)."""
    for r in items:
        wh.execute(
            "INSERT INTO cdp.pending_restatements (plan_id, tenant_id, day_from, day_to, remerge, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plan_id, tenant_id, day_from) DO NOTHING",
            (r.plan_id, r.tenant_id, r.day_from, r.day_to, r.remerge, now),
        )


def pending(wh: Warehouse) -> list[Restatement]:
    rows = wh.query(
        "SELECT plan_id, tenant_id, day_from, day_to, remerge FROM cdp.pending_restatements "
        "ORDER BY created_at, plan_id, tenant_id, day_from"
    )
    return [Restatement(str(p), int(t), as_day(f), as_day(to), bool(m)) for p, t, f, to, m in rows]


def done(wh: Warehouse, items: list[Restatement]) -> None:
    """Remove `items` once a build did them."""
    for r in items:
        wh.execute(
            "DELETE FROM cdp.pending_restatements WHERE plan_id = ? AND tenant_id = ? AND day_from = ?",
            (r.plan_id, r.tenant_id, r.day_from),
        )
