"""What `ordersync build` tells dbt beyond the lookback: the ledger range, the build's own time,
what counts as revenue, when a day is closed, the days applied plans left to redo, and the
withdrawals made or released since a build last applied them.

Builds take turns for their whole length (on PostgreSQL a session advisory lock, held by the
caller's connection while dbt runs in its own), and each build's `built_at` is the warehouse's
clock read once the lock is held: so built_at grows in the order builds committed, which is what
revenue_daily relies on to find the fct_orders rows written since it last caught up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync.config import Settings
from ordersync.land import withdrawals
from ordersync.transform.restatements import Restatement
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey, session_lock


@contextmanager
def serialized_builds(wh: Warehouse) -> Iterator[None]:
    """Hold the build lock while the block runs (PostgreSQL; DuckDB's one writer needs none)."""
    with session_lock(wh, LockKey.BUILD):
        yield


def closed_through(now: datetime, closed_after_hours: float) -> str:
    """The last closed day: one that ended at least `closed_after_hours` before `now` (UTC days)."""
    return ((now.astimezone(UTC) - timedelta(hours=closed_after_hours)).date() - timedelta(days=1)).isoformat()


def build_vars(
    wh: Warehouse,
    settings: Settings,
    now: datetime,
    ledger_from: int,
    ledger_to: int,
    restatements: list[Restatement],
) -> dict[str, Any]:
    built_at = wh.now()
    orders, revisions = settings.orders, settings.revisions
    return {
        "ledger_from": ledger_from,
        "ledger_to": ledger_to,
        "built_at": built_at.isoformat(),
        "invalid_statuses": list(orders.invalid_statuses),
        "pending_statuses": list(orders.pending_statuses),
        "pending_when_no_status": orders.pending_when_no_status,
        "closed_through": closed_through(now, revisions.closed_after_hours),
        "min_delta_abs": revisions.min_delta_abs,
        "min_delta_pct": revisions.min_delta_pct,
        "known_before": _committed_at(wh, ledger_from),
        "known_after": _committed_at(wh, ledger_to),
        "remerge": [r.as_range() for r in restatements if r.remerge],
        "restate": [r.as_range() for r in restatements],
        "withdrawals": withdrawals.pending(wh),
    }


def _committed_at(wh: Warehouse, seq: int) -> str | None:
    if seq <= 0:
        return None
    value = wh.scalar("SELECT committed_at FROM cdp.landing_batches WHERE seq = ?", (seq,))
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None
