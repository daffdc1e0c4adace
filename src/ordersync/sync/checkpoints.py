"""Checkpoints: how far each (tenant, stream) has been read AND committed.

A checkpoint moves only forward, and only inside the same transaction as the rows it covers, so a
sync killed at any point resumes from a position whose data is already landed.
"""

from __future__ import annotations

from datetime import datetime

from ordersync.warehouse import Warehouse


def load(wh: Warehouse, tenant_id: int) -> dict[str, datetime]:
    rows = wh.query("SELECT stream, position FROM cdp.sync_checkpoints WHERE tenant_id = ?", (tenant_id,))
    return {str(stream): pos for stream, pos in rows}


def load_many(wh: Warehouse, tenant_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """load() of several tenants in one query (a tenant without checkpoints is absent)."""
    out: dict[int, dict[str, datetime]] = {}
    if not tenant_ids:
        return out
    wanted = set(tenant_ids)
    for tid, stream, pos in wh.query("SELECT tenant_id, stream, position FROM cdp.sync_checkpoints"):
        if int(tid) in wanted:
            out.setdefault(int(tid), {})[str(stream)] = pos
    return out


def advance(
    wh: Warehouse,
    tenant_id: int,
    stream: str,
    position: datetime,
    run_id: str,
    now: datetime,
    *,
    backward: bool = False,
) -> None:
    """Move the checkpoint to `position` unless it is already further on (later, or earlier for a
    stream read backward). Call inside the transaction that lands the data it covers."""
    pick = "least" if backward else "greatest"
    wh.execute(
        "INSERT INTO cdp.sync_checkpoints (tenant_id, stream, position, run_id, updated_at) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant_id, stream) DO UPDATE SET "
        f"position = {pick}(cdp.sync_checkpoints.position, excluded.position), "
        "run_id = excluded.run_id, updated_at = excluded.updated_at",
        (tenant_id, stream, position, run_id, now),
    )
