"""Withdrawn versions: the way out when bad data landed (`ordersync quarantine add` / `release`).

A withdrawal names one landed version of an order (by its payload hash) or every version of it,
with who withdrew it, when and why. The landing ledger keeps every version; the models read landed
versions through stg_orders, which leaves withdrawn ones out, and the next build re-picks each
order whose withdrawals changed: it falls back to the order's newest version still standing, or
leaves fct_orders when none is. Releasing a withdrawal (recorded too) brings the versions back.

`version` counts a withdrawal's changes and `built_version` the last one a successful build applied;
a build reads the rows where they differ (`pending`) and marks them applied once it succeeded
(`applied`), so a release during a build is applied by the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ordersync.clock import Clock
from ordersync.errors import ConfigError, NotFoundError, RefusedError
from ordersync.warehouse import Warehouse

_COLUMNS = (
    "withdrawal_id, tenant_id, order_id, payload_hash, reason, withdrawn_by, withdrawn_at, "
    "released_by, released_at, release_reason"
)
#: Reasons and names are for people: bounded, so a withdrawal row stays small.
_MAX_TEXT = 1000


def withdraw(
    wh: Warehouse,
    clock: Clock,
    tenant_id: int,
    order_id: str,
    payload_hash: str | None,
    reason: str,
    by: str,
) -> dict[str, Any]:
    """Withdraw the order's version `payload_hash` (every version when None); the new row."""
    reason, by = _text(reason, "--reason"), _text(by, "--by")
    landed = wh.scalar(
        "SELECT count(*) FROM cdp.orders_landing WHERE tenant_id = ? AND order_id = ?"
        + ("" if payload_hash is None else " AND payload_hash = ?"),
        (tenant_id, order_id) if payload_hash is None else (tenant_id, order_id, payload_hash),
    )
    if not landed:
        what = f"order {order_id!r}" + ("" if payload_hash is None else f" with version {payload_hash!r}")
        raise NotFoundError(
            f"no landed {what} for this tenant: check the order id (and the version's payload hash, "
            "as `ordersync revenue diff` or cdp.orders_landing show it)"
        )
    with wh.transaction():
        same = wh.query_one(
            "SELECT withdrawal_id FROM cdp.withdrawals WHERE tenant_id = ? AND order_id = ? "
            "AND released_at IS NULL AND " + ("payload_hash IS NULL" if payload_hash is None else "payload_hash = ?"),
            (tenant_id, order_id) if payload_hash is None else (tenant_id, order_id, payload_hash),
        )
        if same is not None:
            raise RefusedError(
                f"already withdrawn (withdrawal {same[0]}); release it first to withdraw it again with another reason"
            )
        rows = wh.query(
            "INSERT INTO cdp.withdrawals (tenant_id, order_id, payload_hash, reason, withdrawn_by, withdrawn_at) "
            f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (tenant_id, order_id, payload_hash, reason, by, clock.now()),
        )
    return _row(dict(zip(_names(), rows[0], strict=True)))


def release(
    wh: Warehouse, clock: Clock, tenant_id: int | None, withdrawal_id: int, reason: str, by: str
) -> dict[str, Any]:
    """Release withdrawal `withdrawal_id` (of tenant `tenant_id` when given): its versions count again."""
    reason, by = _text(reason, "--reason"), _text(by, "--by")
    with wh.transaction():
        row = wh.query_one(
            "SELECT tenant_id, released_at FROM cdp.withdrawals WHERE withdrawal_id = ?"
            + ("" if tenant_id is None else " AND tenant_id = ?"),
            (withdrawal_id,) if tenant_id is None else (withdrawal_id, tenant_id),
        )
        if row is None:
            raise NotFoundError(f"no withdrawal {withdrawal_id}: `ordersync quarantine withdrawals --all` lists them")
        if row[1] is not None:
            raise RefusedError(f"withdrawal {withdrawal_id} was already released")
        rows = wh.query(
            "UPDATE cdp.withdrawals SET released_at = ?, released_by = ?, release_reason = ?, version = version + 1 "
            f"WHERE tenant_id = ? AND withdrawal_id = ? RETURNING {_COLUMNS}",
            (clock.now(), by, reason, row[0], withdrawal_id),
        )
    return _row(dict(zip(_names(), rows[0], strict=True)))


def list_withdrawals(wh: Warehouse, tenant_id: int | None, include_released: bool) -> list[dict[str, Any]]:
    """Withdrawals (standing ones unless `include_released`), oldest first, with the tenant's name."""
    where, params = [], []
    if tenant_id is not None:
        where.append("w.tenant_id = ?")
        params.append(tenant_id)
    if not include_released:
        where.append("w.released_at IS NULL")
    rows = wh.query_dicts(
        f"SELECT {', '.join('w.' + c for c in _names())}, t.tenant_name AS tenant "
        "FROM cdp.withdrawals AS w JOIN cdp.tenants AS t ON t.tenant_id = w.tenant_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY w.withdrawal_id",
        tuple(params),
    )
    return [_row(r) for r in rows]


def pending(wh: Warehouse) -> list[list[int]]:
    """[withdrawal_id, version, tenant_id] of every withdrawal a build has not applied yet."""
    rows = wh.query(
        "SELECT withdrawal_id, version, tenant_id FROM cdp.withdrawals WHERE version > built_version "
        "ORDER BY withdrawal_id"
    )
    return [[int(r[0]), int(r[1]), int(r[2])] for r in rows]


def applied(wh: Warehouse, done: Sequence[Sequence[int]], left_out: Sequence[int] = ()) -> None:
    """Mark the withdrawals a successful build read (`pending`'s answer) applied, at the version read,
    but those of the tenants the build `left_out`."""
    for withdrawal_id, version, tenant_id in done:
        if tenant_id in left_out:
            continue
        wh.execute(
            "UPDATE cdp.withdrawals SET built_version = ? WHERE withdrawal_id = ? AND built_version < ?",
            (version, withdrawal_id, version),
        )


def _text(value: str, option: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ConfigError(f"{option} is empty: say who and why, it is kept with the withdrawal")
    if len(text) > _MAX_TEXT:
        raise ConfigError(f"{option} is {len(text)} characters long; at most {_MAX_TEXT}")
    return text


def _names() -> list[str]:
    return [c.strip() for c in _COLUMNS.split(",")]


def _row(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["withdrawal_id"] = int(out["withdrawal_id"])
    out["tenant_id"] = int(out["tenant_id"])
    for key in ("withdrawn_at", "released_at"):
        if out.get(key) is not None:
            out[key] = out[key].isoformat()
    out["released"] = out.get("released_at") is not None
    return out
