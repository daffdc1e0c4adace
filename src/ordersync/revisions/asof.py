"""Daily revenue as known at a moment, exactly, and what changed between two moments.

"Known at T" is the landing ledger's answer (land/ledger.py): the versions whose batch the ledger
had seen committed by T. committed_at is set once, when a seal first sees the batch, and never
decreases along the ledger, so an answer given at T is the same whenever it is asked again: no
version that landed later can join it, whatever the writers' clocks said (a writer's clock only
stamps event_ingested_at, which decides nothing here).

`current()` reads revenue_daily, which a build computes from exactly the versions known as of the
ledger's point it sealed (fct_orders reads nothing beyond it); its answer is stamped with that
point's committed_at, so `revenue --as-of <that instant>` reproduces it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from ordersync.config import OrdersSettings
from ordersync.land import ledger
from ordersync.warehouse import Warehouse

_ZERO = Decimal("0.00")
_COLUMNS = (
    "orders",
    "valid_orders",
    "revenue",
    "pending_orders",
    "pending_value",
    "canceled_orders",
    "canceled_value",
)


@functools.cache
def _sql(name: str) -> str:
    return (resources.files("ordersync.revisions") / "sql" / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class DayRevenue:
    """One (tenant, day, currency) of daily revenue."""

    tenant_id: int
    order_date: date
    currency_code: str
    orders: int = 0
    valid_orders: int = 0
    revenue: Decimal = _ZERO
    pending_orders: int = 0
    pending_value: Decimal = _ZERO
    canceled_orders: int = 0
    canceled_value: Decimal = _ZERO

    @property
    def key(self) -> tuple[int, date, str]:
        return (self.tenant_id, self.order_date, self.currency_code)

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.valid_orders:
            return None
        return (self.revenue / self.valid_orders).quantize(Decimal("0.01"))

    def figures(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in _COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["average_order_value"] = self.average_order_value
        return out


@dataclass(frozen=True)
class Revenue:
    """Daily revenue and the instant it is as of (None: nothing was known yet)."""

    as_of: datetime | None
    days: list[DayRevenue] = field(default_factory=list)


@dataclass(frozen=True)
class OrderChange:
    """An order whose version differs between the two moments of a diff."""

    tenant_id: int
    order_id: str
    order_date: date
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class DayDiff:
    tenant_id: int
    order_date: date
    currency_code: str
    before: DayRevenue
    after: DayRevenue
    orders: list[OrderChange]

    @property
    def delta(self) -> Decimal:
        return self.after.revenue - self.before.revenue


def _status_in(values: Sequence[str], *, or_null: bool = False) -> tuple[str, list[Any]]:
    """A bound `o.status in (...)` predicate (false for an empty list)."""
    parts: list[str] = []
    if values:
        parts.append(f"o.status in ({', '.join('?' for _ in values)})")
    if or_null:
        parts.append("o.status is null")
    return ("(" + " or ".join(parts) + ")" if parts else "(1 = 0)"), list(values)


def _byte_order(wh: Warehouse) -> str:
    return 'collate "C"' if wh.dialect == "postgres" else ""


def versions_sql(wh: Warehouse) -> str:
    """order_versions_as_of.sql for `wh` (parameters: the moment, the tenant id twice)."""
    return _sql("order_versions_as_of.sql").replace("{byte_order}", _byte_order(wh))


def as_of(
    wh: Warehouse,
    orders: OrdersSettings,
    at: datetime,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Revenue:
    """Daily revenue from the versions known at `at`, exactly."""
    invalid_sql, invalid = _status_in(orders.invalid_statuses)
    pending_sql, pending = _status_in(orders.pending_statuses, or_null=orders.pending_when_no_status)
    sql = (
        _sql("revenue_as_of.sql")
        .replace("{versions}", versions_sql(wh))
        .replace("{is_invalid}", invalid_sql)
        .replace("{is_pending}", pending_sql)
    )
    at = at.astimezone(UTC)
    params: list[Any] = [*invalid, *pending, at, tenant_id, tenant_id, day_from, day_from, day_to, day_to]
    rows = wh.query(sql, params)
    return Revenue(as_of=at, days=[_day(r) for r in rows])


def current(
    wh: Warehouse,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Revenue:
    """revenue_daily as the last build left it, stamped with the ledger instant it is as of.

    Days whose orders are all gone (kept with zeros) are left out, as `as_of` has no row for them."""
    seq = ledger.cursor(wh, ledger.FCT_ORDERS)
    stamp = wh.scalar("SELECT committed_at FROM cdp.landing_batches WHERE seq = ?", (seq,)) if seq else None
    rows = wh.query(
        "SELECT tenant_id, order_date, currency_code, " + ", ".join(_COLUMNS) + " FROM cdp.revenue_daily "
        "WHERE orders > 0 AND (CAST(? AS INTEGER) IS NULL OR tenant_id = ?) "
        "AND (CAST(? AS DATE) IS NULL OR order_date >= ?) AND (CAST(? AS DATE) IS NULL OR order_date <= ?) "
        "ORDER BY tenant_id, order_date, currency_code",
        (tenant_id, tenant_id, day_from, day_from, day_to, day_to),
    )
    as_of_at = stamp.astimezone(UTC) if isinstance(stamp, datetime) else None
    return Revenue(as_of=as_of_at, days=[_day(r) for r in rows])


def diff(
    wh: Warehouse,
    orders: OrdersSettings,
    before_at: datetime,
    after_at: datetime,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> list[DayDiff]:
    """Every (tenant, day, currency) whose figures differ between `before_at` and `after_at`, with
    the orders whose known version differs between the two (on either day, when one moved)."""
    scope: dict[str, Any] = {"tenant_id": tenant_id, "day_from": day_from, "day_to": day_to}
    before = {d.key: d for d in as_of(wh, orders, before_at, **scope).days}
    after = {d.key: d for d in as_of(wh, orders, after_at, **scope).days}
    changed = sorted(k for k in before.keys() | after.keys() if _figures(before, k) != _figures(after, k))
    if not changed:
        return []
    moved = _changed_orders(wh, before_at, after_at, tenant_id)
    out: list[DayDiff] = []
    for key in changed:
        tid, day, currency = key
        causes = [
            c
            for c in moved
            if c.tenant_id == tid
            and any(
                v is not None and v["order_date"] == day and (v["currency_code"] or "XXX") == currency
                for v in (c.before, c.after)
            )
        ]
        empty = DayRevenue(tid, day, currency)
        out.append(DayDiff(tid, day, currency, before.get(key, empty), after.get(key, empty), causes))
    return out


def _figures(days: dict[tuple[int, date, str], DayRevenue], key: tuple[int, date, str]) -> tuple[Any, ...]:
    day = days.get(key)
    return DayRevenue(*key).figures() if day is None else day.figures()


def _changed_orders(wh: Warehouse, before_at: datetime, after_at: datetime, tenant_id: int | None) -> list[OrderChange]:
    """Orders whose known version differs between the two moments: only orders with a version
    known between them can differ, so the comparison reads those."""
    versions = versions_sql(wh)
    low, high = sorted((before_at.astimezone(UTC), after_at.astimezone(UTC)))
    sql = (
        "WITH touched AS ("
        " SELECT DISTINCT l.tenant_id, l.order_id FROM cdp.orders_landing l"
        " LEFT JOIN cdp.landing_batches b ON b.batch_id = l.batch_id"
        " WHERE CASE WHEN l.batch_id IS NULL THEN coalesce(l.event_ingested_at, l.event_time)"
        " ELSE b.committed_at END > ?"
        " AND CASE WHEN l.batch_id IS NULL THEN coalesce(l.event_ingested_at, l.event_time)"
        " ELSE b.committed_at END <= ?"
        " AND (CAST(? AS INTEGER) IS NULL OR l.tenant_id = ?)),"
        f" v1 AS ({versions}), v2 AS ({versions})"
        " SELECT t.tenant_id, t.order_id,"
        " v1.order_date, v1.status, v1.total_value, v1.currency_code, v1.payload_hash,"
        " v2.order_date, v2.status, v2.total_value, v2.currency_code, v2.payload_hash"
        " FROM touched t"
        " LEFT JOIN v1 ON v1.tenant_id = t.tenant_id AND v1.order_id = t.order_id"
        " LEFT JOIN v2 ON v2.tenant_id = t.tenant_id AND v2.order_id = t.order_id"
        " ORDER BY t.tenant_id, t.order_id"
    )
    params = [low, high, tenant_id, tenant_id, before_at, tenant_id, tenant_id, after_at, tenant_id, tenant_id]
    out: list[OrderChange] = []
    for row in wh.query(sql, params):
        one, two = _version(row[2:7]), _version(row[7:12])
        if (one or {}).get("payload_hash") == (two or {}).get("payload_hash"):
            continue
        day = (two or one or {})["order_date"]
        out.append(OrderChange(int(row[0]), str(row[1]), day, one, two))
    return out


def _version(values: Sequence[Any]) -> dict[str, Any] | None:
    if values[4] is None:
        return None
    keys = ("order_date", "status", "total_value", "currency_code", "payload_hash")
    return dict(zip(keys, values, strict=True))


def _day(row: Sequence[Any]) -> DayRevenue:
    day = row[1] if isinstance(row[1], date) else date.fromisoformat(str(row[1]))
    return DayRevenue(
        tenant_id=int(row[0]),
        order_date=day.date() if isinstance(day, datetime) else day,
        currency_code=str(row[2]),
        orders=int(row[3]),
        valid_orders=int(row[4] or 0),
        revenue=Decimal(row[5] or 0).quantize(Decimal("0.01")),
        pending_orders=int(row[6] or 0),
        pending_value=Decimal(row[7] or 0).quantize(Decimal("0.01")),
        canceled_orders=int(row[8] or 0),
        canceled_value=Decimal(row[9] or 0).quantize(Decimal("0.01")),
    )
