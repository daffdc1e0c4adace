"""cdp.plans: backfill and restatement plans, drafted, reviewed and applied.

A plan's document (`body`, JSON) never changes once drafted: drafting again makes a new plan with a
new id. Only its review (approved / rejected, by whom, when) and its apply (when, by whom, the
result) are written later, each once. `body_hash` is the document's SHA-256, so a reviewer can
tell the document they read is the one applied.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ordersync.errors import NotFoundError, RefusedError
from ordersync.paging import instant, unpack
from ordersync.warehouse import Warehouse

DRAFTED, APPROVED, REJECTED, APPLIED = "drafted", "approved", "rejected", "applied"
_COLUMNS = (
    "plan_id, kind, status, author, created_at, scope, body, body_hash, reviewed_by, reviewed_at, "
    "applied_at, applied_by, result"
)


@dataclass(frozen=True)
class Plan:
    plan_id: str
    kind: str
    status: str
    author: str | None
    created_at: datetime
    scope: dict[str, Any]
    body: dict[str, Any]
    body_hash: str
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    applied_at: datetime | None = None
    applied_by: str | None = None
    result: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        totals = self.body.get("totals", {})
        return {
            "plan_id": self.plan_id,
            "kind": self.kind,
            "status": self.status,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "tenants": ", ".join(self.scope.get("tenants", [])),
            "from": self.scope.get("from"),
            "to": self.scope.get("to"),
            "versions_to_land": totals.get("versions_to_land", 0),
            "rows_changed": totals.get("rows_inserted", 0) + totals.get("rows_updated", 0),
            "reviewed_by": self.reviewed_by,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
        }

    def document(self) -> dict[str, Any]:
        """The whole plan as JSON: its document and its review and apply state."""
        return {
            **self.summary(),
            "body_hash": self.body_hash,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "applied_by": self.applied_by,
            "scope": self.scope,
            "plan": self.body,
            "result": self.result,
        }


def new_plan_id() -> str:
    return "p-" + secrets.token_hex(6)


def body_text(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


class PlanStore:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def save(self, plan: Plan, versions: list[tuple[int, str, str, str]]) -> None:
        """Store a drafted plan and the versions it read from the source, in one transaction:
        (tenant_id, order_id, payload_hash, payload)."""
        text = body_text(plan.body)
        with self.wh.transaction():
            self.wh.execute(
                f"INSERT INTO cdp.plans ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL)",
                (
                    plan.plan_id,
                    plan.kind,
                    plan.status,
                    plan.author,
                    plan.created_at,
                    json.dumps(plan.scope, sort_keys=True),
                    text,
                    hashlib.sha256(text.encode()).hexdigest(),
                ),
            )
            for tenant_id, order_id, phash, payload in versions:
                self.wh.execute(
                    "INSERT INTO cdp.plan_versions (plan_id, tenant_id, order_id, payload_hash, payload) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (plan.plan_id, tenant_id, order_id, phash, payload),
                )

    def get(self, plan_id: str) -> Plan:
        row = self.wh.query_one(f"SELECT {_COLUMNS} FROM cdp.plans WHERE plan_id = ?", (plan_id,))
        if row is None:
            raise NotFoundError(f"no plan {plan_id!r}: `ordersync plan list` shows the plans")
        return _plan(row)

    def recent(self, limit: int = 100) -> list[Plan]:
        rows = self.wh.query(f"SELECT {_COLUMNS} FROM cdp.plans ORDER BY created_at DESC, plan_id LIMIT ?", (limit,))
        return [_plan(r) for r in rows]

    def page(
        self, after: tuple[Any, ...] | None, limit: int, visible: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[Plan]:
        """At most `limit` plans, newest first (ties by id), coming after the plan keyed `after` (a
        `plan_key`); with `visible`, only those whose scope it accepts: the scopes are read a batch at
        a time until the page is full, and only the page's documents are read."""
        mark = None if after is None else unpack(after, instant, str)
        if visible is None:
            where, params = _after(mark)
            rows = self.wh.query(
                f"SELECT {_COLUMNS} FROM cdp.plans{where} ORDER BY created_at DESC, plan_id LIMIT ?", (*params, limit)
            )
            return [_plan(r) for r in rows]
        chosen: list[str] = []
        while len(chosen) < limit:
            where, params = _after(mark)
            scopes = self.wh.query(
                f"SELECT plan_id, created_at, scope FROM cdp.plans{where} ORDER BY created_at DESC, plan_id LIMIT ?",
                (*params, _SCOPE_BATCH),
            )
            chosen += [str(pid) for pid, _, scope in scopes if visible(json.loads(scope))]
            if len(scopes) < _SCOPE_BATCH:
                break
            mark = (scopes[-1][1], str(scopes[-1][0]))
        if not chosen:
            return []
        rows = self.wh.query(
            f"SELECT {_COLUMNS} FROM cdp.plans WHERE plan_id IN (SELECT unnest(CAST(? AS TEXT[]))) "
            "ORDER BY created_at DESC, plan_id",
            (chosen[:limit],),
        )
        return [_plan(r) for r in rows]

    def applied_for(self, tenant_id: int) -> list[Plan]:
        """The applied plans whose scope holds the tenant, the last applied first."""
        rows = self.wh.query(
            f"SELECT {_COLUMNS} FROM cdp.plans WHERE status = ? ORDER BY applied_at DESC, plan_id", (APPLIED,)
        )
        plans = [_plan(r) for r in rows]
        return [p for p in plans if tenant_id in p.scope.get("tenant_ids", [])]

    def versions(self, plan_id: str) -> list[tuple[int, str, str, str]]:
        rows = self.wh.query(
            "SELECT tenant_id, order_id, payload_hash, payload FROM cdp.plan_versions WHERE plan_id = ? "
            "ORDER BY tenant_id, order_id, payload_hash",
            (plan_id,),
        )
        return [(int(t), str(o), str(h), str(p)) for t, o, h, p in rows]

    def review(self, plan_id: str, status: str, by: str, now: datetime) -> Plan:
        """Approve or reject a drafted plan, once."""
        by = by.strip()
        if not by:
            raise RefusedError("--by names the reviewer: give a name")
        plan = self.get(plan_id)
        if plan.status != DRAFTED:
            raise RefusedError(f"plan {plan_id} is {plan.status}, not drafted: only a drafted plan is reviewed")
        self.wh.execute(
            "UPDATE cdp.plans SET status = ?, reviewed_by = ?, reviewed_at = ? WHERE plan_id = ? AND status = ?",
            (status, by, now.astimezone(UTC), plan_id, DRAFTED),
        )
        return self.get(plan_id)

    def mark_applied(self, plan_id: str, by: str | None, now: datetime) -> bool:
        """Mark the plan applied (inside the apply's transaction); False if it already was."""
        before = self.get(plan_id)
        if before.status == APPLIED:
            return False
        self.wh.execute(
            "UPDATE cdp.plans SET status = ?, applied_at = ?, applied_by = ? WHERE plan_id = ? AND status <> ?",
            (APPLIED, now.astimezone(UTC), by, plan_id, APPLIED),
        )
        return True

    def record_result(self, plan_id: str, result: dict[str, Any]) -> None:
        self.wh.execute("UPDATE cdp.plans SET result = ? WHERE plan_id = ?", (body_text(result), plan_id))


#: scopes read at a time while a page of the plans a tenant's token sees is filled
_SCOPE_BATCH = 500


def plan_key(summary: dict[str, Any]) -> tuple[Any, ...]:
    """A plan's place in the list (newest first), from its summary: the key its keyset cursor holds."""
    return (summary["created_at"], summary["plan_id"])


def _after(mark: tuple[Any, ...] | None) -> tuple[str, list[Any]]:
    if mark is None:
        return "", []
    created, plan_id = mark
    return " WHERE (created_at < ? OR (created_at = ? AND plan_id > ?))", [created, created, plan_id]


def _plan(row: tuple[Any, ...]) -> Plan:
    return Plan(
        plan_id=str(row[0]),
        kind=str(row[1]),
        status=str(row[2]),
        author=row[3],
        created_at=row[4],
        scope=json.loads(row[5]),
        body=json.loads(row[6]),
        body_hash=str(row[7]),
        reviewed_by=row[8],
        reviewed_at=row[9],
        applied_at=row[10],
        applied_by=row[11],
        result=json.loads(row[12]) if row[12] else None,
    )
