"""`gaps`: days where the warehouse holds fewer orders or less revenue than the source (asked live,
one list request per tenant-day), and each tenant's days behind (the seed's query)."""

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
