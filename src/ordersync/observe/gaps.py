"""`gaps`: days where the warehouse holds fewer orders or less revenue than the source (asked live,
one list request per tenant-day), and each tenant's days behind (the seed's query); and, without
asking, each recent day as landed beside the source as the runs' checks last found it
(cdp.discrepancies), for the Tenant page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ordersync.config import SyncSettings
from ordersync.sources.vtex.client import client_for
from ordersync.sync import reconcile
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

NO_SOURCE = "no source to ask: this store has no pull API (its orders are pushed or ingested)"


async def tenant_gaps(
    tenants: list[Tenant], fork: Callable[[], Warehouse], now: datetime, settings: SyncSettings, days: int
) -> list[dict[str, Any]]:
    async def one(t: Tenant) -> list[dict[str, Any]]:
        if not t.pulls:
            return [{"tenant": t.tenant_name, "date": None, "days_behind": None, "note": NO_SOURCE}]
        tz = t.tz
        recent = reconcile.last_complete_days(now, days, tz, settings.index_lag_minutes)
        # days before the go-live date are the store's, never meant to be held
        day_list = [d for d in recent if not t.go_live_date or d >= t.go_live_date]
        source: dict[date, reconcile.DayTotals] = {}
        held: dict[date, reconcile.DayTotals] = {}
        if day_list:
            async with client_for(t, settings) as client:
                source = await reconcile.source_days(client, tz, day_list)
        wh = await asyncio.to_thread(fork)
        try:
            if day_list:
                held = await asyncio.to_thread(reconcile.warehouse_days, wh, t.tenant_id, day_list[0], day_list[-1])
            last = await asyncio.to_thread(
                wh.scalar, "SELECT max(order_date) FROM cdp.orders_landing WHERE tenant_id = ?", (t.tenant_id,)
            )
        finally:
            await asyncio.to_thread(wh.close)
        today = now.astimezone(tz).date()
        behind = (today - last).days if last else None
        rows: list[dict[str, Any]] = [
            {
                "tenant": t.tenant_name,
                "date": c.day.isoformat(),
                "source_orders": c.source.orders,
                "warehouse_orders": c.warehouse.orders,
                "source_revenue": str(c.source.total),
                "warehouse_revenue": str(c.warehouse.total),
                "days_behind": behind,
            }
            for c in reconcile.compare(source, held)
            if c.short
        ]
        if behind is None or behind > 1:
            rows.append({"tenant": t.tenant_name, "date": None, "days_behind": behind})
        return rows

    results = await asyncio.gather(*(one(t) for t in tenants))
    return [r for rows in results for r in rows]


def days_against_source(
    wh: Warehouse, tenant: Tenant, now: datetime, settings: SyncSettings, days: int
) -> list[dict[str, Any]]:
    """The tenant's last `days` complete days, oldest first: orders and revenue as the last build
    holds them (fct_orders, read by its day index: the landed versions of a large tenant are too
    many to rank on every page view) beside the source's figures where a run's check found them
    different (the day's newest discrepancy); `gap` while that one is still open."""
    day_list = reconcile.last_complete_days(now, days, tenant.tz, settings.index_lag_minutes)
    held = reconcile.built_days(wh, tenant.tenant_id, day_list[0], day_list[-1]) if wh.has_table("fct_orders") else {}
    checks = reconcile.latest_checks(wh, tenant.tenant_id, day_list[0], day_list[-1])
    out: list[dict[str, Any]] = []
    for day in day_list:
        landed, check = held.get(day), checks.get(day)
        out.append(
            {
                "date": day.isoformat(),
                "built_orders": landed.orders if landed else 0,
                "built_revenue": str(landed.total) if landed else "0.00",
                "source_orders": int(check["source_orders"]) if check else None,
                "source_revenue": str(check["source_total"]) if check else None,
                "checked_at": check["found_at"].isoformat() if check else None,
                "fixed_at": check["fixed_at"].isoformat() if check and check["fixed_at"] else None,
                "gap": bool(check and not check["fixed"]),
            }
        )
    return out
