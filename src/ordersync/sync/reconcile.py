"""Per-day reconciliation against the source: order counts and totals, day by day.

The source side costs one list request per day (its paging total and totalValue sum); the warehouse
side is the latest landed version of each order, so it can be checked before any build.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.dates import as_day
from ordersync.sources.vtex.oms import VtexClient
from ordersync.warehouse import Warehouse
from ordersync.warehouse.macros import latest_version_first

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class DayTotals:
    orders: int
    total: Decimal


@dataclass(frozen=True)
class DayCheck:
    day: date
    source: DayTotals
    warehouse: DayTotals

    @property
    def matches(self) -> bool:
        return self.source == self.warehouse

    @property
    def short(self) -> bool:
        """The warehouse holds fewer orders or less revenue than the source: a gap."""
        return self.warehouse.orders < self.source.orders or self.warehouse.total < self.source.total


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of a local day, end inclusive at the last millisecond."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end - timedelta(milliseconds=1)


def complete_days(end: datetime, days: int, tz: ZoneInfo) -> list[date]:
    """The `days` local days that ended before `end` (the sync's upper bound)."""
    last = end.astimezone(tz).date() - timedelta(days=1)
    return [last - timedelta(days=i) for i in range(days - 1, -1, -1)]


def last_complete_days(now: datetime, days: int, tz: ZoneInfo, index_lag_minutes: float) -> list[date]:
    """The last `days` complete days of a tenant: days of its time zone that ended before `now` less
    the source's index lag, so the source's listing holds them whole. The one rule for "the last
    complete day" (gaps, verify's source check and a plan's default days)."""
    return complete_days(now - timedelta(minutes=index_lag_minutes), days, tz)


async def source_days(client: VtexClient, tz: ZoneInfo, days: list[date]) -> dict[date, DayTotals]:
    async def one(day: date) -> tuple[date, DayTotals]:
        start, end = day_bounds(day, tz)
        orders, cents = await client.window_totals("creationDate", start, end)
        return day, DayTotals(orders, (Decimal(cents or 0) / 100).quantize(_CENT))

    return dict(await asyncio.gather(*(one(d) for d in days)))


def warehouse_days(wh: Warehouse, tenant_id: int, first: date, last: date) -> dict[date, DayTotals]:
    rows = wh.query(
        "SELECT order_date, count(*), sum(total_value) FROM ("
        "  SELECT order_date, total_value, row_number() OVER ("
        f"    PARTITION BY order_id ORDER BY {latest_version_first(wh.dialect)}) AS rn"
        "  FROM cdp.orders_landing WHERE tenant_id = ? AND order_date BETWEEN ? AND ?"
        ") latest WHERE rn = 1 GROUP BY order_date",
        (tenant_id, first, last),
    )
    return {d: DayTotals(int(n), Decimal(t).quantize(_CENT)) for d, n, t in rows}


def built_days(wh: Warehouse, tenant_id: int, first: date, last: date) -> dict[date, DayTotals]:
    """Per order date, the orders cdp.fct_orders holds (as the last build left them) and their total."""
    rows = wh.query(
        "SELECT order_date, count(*), coalesce(sum(total_value), 0) FROM cdp.fct_orders "
        "WHERE tenant_id = ? AND order_date BETWEEN ? AND ? GROUP BY order_date",
        (tenant_id, first, last),
    )
    return {as_day(d): DayTotals(int(n), Decimal(t).quantize(_CENT)) for d, n, t in rows}


def compare(source: dict[date, DayTotals], warehouse: dict[date, DayTotals]) -> list[DayCheck]:
    empty = DayTotals(0, Decimal("0.00"))
    return [DayCheck(d, source[d], warehouse.get(d, empty)) for d in sorted(source)]


def record(wh: Warehouse, tenant_id: int, run_id: str, checks: list[DayCheck], now: datetime) -> None:
    for c in checks:
        wh.execute(
            "INSERT INTO cdp.discrepancies (tenant_id, run_id, order_date, source_orders, source_total, "
            "warehouse_orders, warehouse_total, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                run_id,
                c.day,
                c.source.orders,
                c.source.total,
                c.warehouse.orders,
                c.warehouse.total,
                now,
            ),
        )


def record_after(wh: Warehouse, run_id: str, after: list[DayCheck], now: datetime) -> None:
    for c in after:
        wh.execute(
            "UPDATE cdp.discrepancies SET fixed = ?, fixed_at = ?, after_orders = ?, after_total = ? "
            "WHERE run_id = ? AND order_date = ?",
            (c.matches, now if c.matches else None, c.warehouse.orders, c.warehouse.total, run_id, c.day),
        )


#: The newest discrepancy of each (tenant, day) that is still open; older ones are superseded by it.
_LATEST_OPEN = (
    "SELECT discrepancy_id, order_date, source_orders, source_total FROM ("
    "  SELECT discrepancy_id, tenant_id, order_date, source_orders, source_total, fixed, row_number() OVER ("
    "    PARTITION BY tenant_id, order_date ORDER BY found_at DESC, discrepancy_id DESC) AS rn"
    "  FROM cdp.discrepancies WHERE tenant_id = ?"
    ") d WHERE rn = 1 AND NOT fixed"
)


def _mark_fixed(wh: Warehouse, discrepancy_id: int, run_id: str, now: datetime, held: DayTotals) -> None:
    wh.execute(
        "UPDATE cdp.discrepancies SET fixed = TRUE, fixed_at = ?, fixed_run_id = ?, after_orders = ?, "
        "after_total = ? WHERE discrepancy_id = ?",
        (now, run_id, held.orders, held.total, discrepancy_id),
    )


def close_fixed(wh: Warehouse, tenant_id: int, run_id: str, now: datetime) -> int:
    """Close the tenant's open discrepancies whose day the warehouse now holds as the source
    reported it (a later run landed what was missing); returns how many were closed."""
    rows = wh.query(_LATEST_OPEN, (tenant_id,))
    if not rows:
        return 0
    held = warehouse_days(wh, tenant_id, min(r[1] for r in rows), max(r[1] for r in rows))
    empty = DayTotals(0, Decimal("0.00"))
    closed = 0
    for discrepancy_id, day, orders, total in rows:
        now_held = held.get(day, empty)
        if now_held == DayTotals(int(orders), Decimal(total).quantize(_CENT)):
            _mark_fixed(wh, int(discrepancy_id), run_id, now, now_held)
            closed += 1
    return closed


def close_matching(wh: Warehouse, tenant_id: int, run_id: str, checks: list[DayCheck], now: datetime) -> None:
    """A full sync found these days equal to the source as it is now: any discrepancy still open
    on them (recorded against older source figures) is closed."""
    matching = {c.day: c for c in checks if c.matches}
    if not matching:
        return
    for discrepancy_id, day, _, _ in wh.query(_LATEST_OPEN, (tenant_id,)):
        check = matching.get(day)
        if check is not None:
            _mark_fixed(wh, int(discrepancy_id), run_id, now, check.warehouse)


def latest_checks(wh: Warehouse, tenant_id: int, first: date, last: date) -> dict[date, dict[str, Any]]:
    """The newest discrepancy of each of the tenant's days from `first` to `last` (open or fixed): the
    source's figures as that check found them, and whether a later run closed it."""
    rows = wh.query_dicts(
        "SELECT order_date, source_orders, source_total, warehouse_orders, warehouse_total, found_at, fixed, "
        "fixed_at FROM ("
        "  SELECT *, row_number() OVER ("
        "    PARTITION BY tenant_id, order_date ORDER BY found_at DESC, discrepancy_id DESC) AS rn"
        "  FROM cdp.discrepancies WHERE tenant_id = ? AND order_date BETWEEN ? AND ?"
        ") d WHERE rn = 1",
        (tenant_id, first, last),
    )
    return {r["order_date"]: r for r in rows}


def open_days(wh: Warehouse) -> dict[int, int]:
    """Per tenant, the days whose newest discrepancy is still open."""
    return {
        int(tid): int(n)
        for tid, n in wh.query(
            "SELECT tenant_id, count(*) FROM ("
            "  SELECT tenant_id, fixed, row_number() OVER ("
            "    PARTITION BY tenant_id, order_date ORDER BY found_at DESC, discrepancy_id DESC) AS rn"
            "  FROM cdp.discrepancies"
            ") d WHERE rn = 1 AND NOT fixed GROUP BY tenant_id"
        )
    }
