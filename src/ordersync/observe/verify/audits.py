"""The audit scans: fct_orders, revenue_daily and the build log checked against the warehouse's own
landed rows.

    latest_versions  fct_orders holds the latest landed version of every order (a full audit scan)
    revenue_daily    revenue_daily equals a recomputation from fct_orders (a full audit scan)
    full_refresh     no build in cdp.build_runs ever ran with a full refresh

The two scans are deliberate oracles: latest_versions.sql and revenue_daily.sql restate the
newest-version order (transform/dbt/macros/order_versions.sql) and the valid/pending/canceled rule
(transform/dbt/macros/revenue.sql) in plain SQL on purpose, so a mistake in the models or their
macros shows as a finding instead of being shared by the check. Keep them written independently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ordersync.config import Settings
from ordersync.dates import as_day
from ordersync.land import ledger
from ordersync.observe.verify.results import CENT, EXAMPLES, NOT_BUILT, CheckResult, audit_sql
from ordersync.outcomes import CheckStatus
from ordersync.warehouse import Warehouse

# -- 3. latest versions -------------------------------------------------------------------------------
_LATEST_FAILING = ("missing", "stale", "differs", "extra", "duplicate")


def latest_versions(wh: Warehouse, tenant_id: int | None) -> CheckResult:
    """fct_orders against the latest landed version of every order (of one tenant, when given):
    latest_versions.sql."""
    if not wh.has_table("fct_orders"):
        return CheckResult("latest_versions", CheckStatus.FAIL, f"fct_orders is {NOT_BUILT}")
    sql = audit_sql("latest_versions.sql").replace("{byte_order}", wh.byte_order)
    cursor = ledger.cursor(wh, ledger.FCT_ORDERS)
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for kind, n, tid, order_id in wh.query(sql, (tenant_id, cursor)):
        counts[kind] = int(n)
        examples.setdefault(kind, []).append(f"{tid}:{order_id}")
    figures: dict[str, Any] = {
        "orders": sum(counts.values()),
        **{k: counts.get(k, 0) for k in ("ok", *_LATEST_FAILING, "awaiting_build")},
        "examples": {k: v for k, v in examples.items() if k != "ok"},
    }
    head = (
        f"{figures['orders']} orders: {figures['ok']} latest, {figures['missing']} missing, "
        f"{figures['stale']} stale, {figures['extra']} extra"
    )
    for k in ("differs", "duplicate", "awaiting_build"):
        if figures[k]:
            head += f", {figures[k]} {k.replace('_', ' ')}"
    bad = [k for k in _LATEST_FAILING if figures[k]]
    if not bad:
        return CheckResult("latest_versions", CheckStatus.PASS, head, figures=figures)
    shown = "; ".join(f"{k} e.g. {', '.join(examples[k][:3])}" for k in bad)
    return CheckResult("latest_versions", CheckStatus.FAIL, f"{head} ({shown})", figures=figures)


# -- 4. revenue_daily ---------------------------------------------------------------------------------
def revenue_daily(wh: Warehouse, settings: Settings, tenant_id: int | None) -> CheckResult:
    """revenue_daily against a recomputation from fct_orders (of one tenant, when given):
    revenue_daily.sql."""
    if not wh.has_table("revenue_daily") or not wh.has_table("fct_orders"):
        return CheckResult("revenue_daily", CheckStatus.FAIL, f"revenue_daily is {NOT_BUILT}")
    orders = settings.orders
    sql = (
        audit_sql("revenue_daily.sql")
        .replace("{invalid_statuses}", _placeholders(orders.invalid_statuses))
        .replace("{pending_statuses}", _placeholders(orders.pending_statuses))
        .replace("{average_cents}", _AVERAGECENTS[wh.dialect == "postgres"])
    )
    counts: dict[str, int] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    params = (tenant_id, orders.pending_when_no_status, *orders.invalid_statuses, *orders.pending_statuses)
    for row in wh.query_dicts(sql, params):
        kind = str(row["kind"])
        counts[kind] = int(row["days"])
        examples.setdefault(kind, []).append(
            {
                "tenant_id": int(row["tenant_id"]),
                "date": as_day(row["order_date"]).isoformat(),
                "currency": row["currency_code"],
                "revenue_daily": _money_pair(row["built_orders"], row["built_revenue"]),
                "recomputed": _money_pair(row["recomputed_orders"], row["recomputed_revenue"]),
            }
        )
    figures: dict[str, Any] = {
        "rows": sum(counts.values()),
        **{k: counts.get(k, 0) for k in ("ok", "missing", "extra", "differs")},
        "examples": {k: v for k, v in examples.items() if k != "ok"},
    }
    head = (
        f"{figures['rows']} tenant-day-currency rows: {figures['ok']} equal, {figures['differs']} differ, "
        f"{figures['missing']} missing, {figures['extra']} extra"
    )
    bad = [k for k in ("differs", "missing", "extra") if figures[k]]
    if not bad:
        return CheckResult("revenue_daily", CheckStatus.PASS, head, figures=figures)
    shown = "; ".join(
        f"{e['tenant_id']} {e['date']} {e['currency']}: revenue_daily {e['revenue_daily'] or '-'} "
        f"recomputed {e['recomputed'] or '-'}"
        for k in bad
        for e in examples[k][:3]
    )
    return CheckResult(
        "revenue_daily",
        CheckStatus.FAIL,
        f"{head} ({shown}; after an [orders] settings change, restate the days with a plan)",
        figures=figures,
    )


def _money_pair(orders: Any, revenue: Any) -> str | None:
    if orders is None:
        return None
    return f"{int(orders)} orders {Decimal(revenue).quantize(CENT)}"


def _placeholders(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values) if values else "NULL"


# -- 5. full refreshes --------------------------------------------------------------------------------
def full_refresh(wh: Warehouse) -> CheckResult:
    """Every build in the build log (cdp.build_runs, any status) and its flags: none ran with
    full_refresh true. A flags text that cannot be read fails the check too: it could be one."""
    builds = 0
    refreshed: list[dict[str, Any]] = []
    unreadable: list[int] = []
    for build_id, flags, status, started_at, trigger in wh.query(
        "SELECT build_id, flags, status, started_at, trigger FROM cdp.build_runs ORDER BY build_id"
    ):
        builds += 1
        try:
            parsed = json.loads(flags)
            on = isinstance(parsed, dict) and parsed.get("full_refresh") is True
        except (TypeError, ValueError):
            unreadable.append(int(build_id))
            continue
        if on:
            when = started_at.isoformat() if isinstance(started_at, datetime) else str(started_at)
            refreshed.append({"build_id": int(build_id), "status": status, "started_at": when, "trigger": trigger})
    figures: dict[str, Any] = {
        "builds": builds,
        "full_refreshes": len(refreshed),
        "unreadable_flags": len(unreadable),
        "examples": refreshed[:EXAMPLES],
        "unreadable_examples": unreadable[:EXAMPLES],
    }
    summary = f"{builds} builds logged, {len(refreshed)} with a full refresh"
    if unreadable:
        summary += f", {len(unreadable)} with flags that cannot be read (build {', '.join(map(str, unreadable[:3]))})"
    if refreshed:
        summary += (
            " (" + "; ".join(f"build {r['build_id']} {r['status']} at {r['started_at']}" for r in refreshed[:3]) + ")"
        )
    return CheckResult(
        "full_refresh", CheckStatus.FAIL if refreshed or unreadable else CheckStatus.PASS, summary, figures=figures
    )


# -- helpers ------------------------------------------------------------------------------------------
#: revenue / valid_orders in whole cents, rounded half up, exactly (DuckDB divides decimals as doubles);
#: the same rule as the models' average_money macro (transform/dbt/macros/money.sql).
_AVERAGECENTS = {
    True: "div(2 * revenue * 100 + valid_orders, 2 * valid_orders)",
    False: "(2 * CAST(revenue * 100 AS HUGEINT) + valid_orders) // (2 * valid_orders)",
}
