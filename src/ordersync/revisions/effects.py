"""What a plan would do, computed before it runs: the same version order as the models
(macros/order_versions.sql) and the same revenue definitions (macros/revenue.sql), in Python, over
the few tenant-days a plan is about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ordersync.config import OrdersSettings
from ordersync.warehouse import Warehouse

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderVersion:
    """The fields of one order version that decide which version wins and what it is worth."""

    order_id: str
    event_time: datetime
    processed_at: datetime | None  # None: not landed yet (it will land after everything landed so far)
    payload_hash: str
    order_date: date
    status: str | None
    total_value: Decimal
    currency_code: str | None

    def order_key(self) -> tuple[Any, ...]:
        """Greater is newer: event_time, then processing time, then payload_hash in byte order."""
        processed = (1, datetime.min) if self.processed_at is None else (0, self.processed_at)
        return (self.event_time, processed, self.payload_hash.encode())

    def as_dict(self) -> dict[str, Any]:
        return {
            "payload_hash": self.payload_hash,
            "event_time": self.event_time.isoformat(),
            "order_date": self.order_date.isoformat(),
            "status": self.status,
            "total_value": str(self.total_value.quantize(_CENT)),
            "currency_code": self.currency_code,
        }


def newest(versions: Iterable[OrderVersion]) -> OrderVersion | None:
    best: OrderVersion | None = None
    for v in versions:
        if best is None or v.order_key() > best.order_key():
            best = v
    return best


def classify(status: str | None, total: Decimal, orders: OrdersSettings) -> tuple[bool, bool, bool]:
    """(valid, pending, canceled) as revenue_daily counts them."""
    canceled = status is not None and status in orders.invalid_statuses
    valid = not canceled and total > 0
    pending_status = (status in orders.pending_statuses) if status is not None else orders.pending_when_no_status
    return valid, valid and pending_status, canceled


def day_revenue(rows: Iterable[OrderVersion], orders: OrdersSettings) -> dict[tuple[date, str], dict[str, Any]]:
    """Per (order date, currency): orders, valid_orders, revenue, pending and canceled figures."""
    out: dict[tuple[date, str], dict[str, Any]] = {}
    for v in rows:
        key = (v.order_date, v.currency_code or "XXX")
        day = out.setdefault(
            key,
            {
                "orders": 0,
                "valid_orders": 0,
                "revenue": Decimal("0.00"),
                "pending_orders": 0,
                "pending_value": Decimal("0.00"),
                "canceled_orders": 0,
                "canceled_value": Decimal("0.00"),
            },
        )
        valid, pending, canceled = classify(v.status, v.total_value, orders)
        day["orders"] += 1
        if valid:
            day["valid_orders"] += 1
            day["revenue"] += v.total_value
        if pending:
            day["pending_orders"] += 1
            day["pending_value"] += v.total_value
        if canceled:
            day["canceled_orders"] += 1
            day["canceled_value"] += v.total_value
    return out


def current_rows(wh: Warehouse, tenant_id: int, day_from: date, day_to: date) -> dict[str, OrderVersion]:
    """fct_orders' rows of a tenant's days, by order id."""
    rows = wh.query(
        "SELECT order_id, event_time, coalesce(event_ingested_at, event_time), payload_hash, order_date, status, "
        "total_value, currency_code FROM cdp.fct_orders WHERE tenant_id = ? AND order_date BETWEEN ? AND ?",
        (tenant_id, day_from, day_to),
    )
    return {str(r[0]): _version(r) for r in rows}


def current_of(wh: Warehouse, tenant_id: int, order_ids: list[str]) -> dict[str, OrderVersion]:
    """fct_orders' rows of some orders, whatever their day."""
    out: dict[str, OrderVersion] = {}
    for i in range(0, len(order_ids), 1000):
        chunk = order_ids[i : i + 1000]
        rows = wh.query(
            "SELECT order_id, event_time, coalesce(event_ingested_at, event_time), payload_hash, order_date, status, "
            "total_value, currency_code FROM cdp.fct_orders WHERE tenant_id = ? "
            "AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
            (tenant_id, chunk),
        )
        out.update({str(r[0]): _version(r) for r in rows})
    return out


def landed_of(wh: Warehouse, tenant_id: int, order_ids: list[str]) -> dict[str, list[OrderVersion]]:
    """Every landed version of some orders."""
    out: dict[str, list[OrderVersion]] = {}
    for i in range(0, len(order_ids), 1000):
        chunk = order_ids[i : i + 1000]
        rows = wh.query(
            "SELECT order_id, event_time, coalesce(event_ingested_at, event_time), payload_hash, order_date, status, "
            "total_value, currency_code FROM cdp.orders_landing WHERE tenant_id = ? "
            "AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
            (tenant_id, chunk),
        )
        for r in rows:
            out.setdefault(str(r[0]), []).append(_version(r))
    return out


def _version(r: tuple[Any, ...]) -> OrderVersion:
    return OrderVersion(
        order_id=str(r[0]),
        event_time=r[1],
        processed_at=r[2],
        payload_hash=str(r[3]),
        order_date=r[4]
        if isinstance(r[4], date) and not isinstance(r[4], datetime)
        else date.fromisoformat(str(r[4])[:10]),
        status=r[5],
        total_value=Decimal(r[6]).quantize(_CENT),
        currency_code=r[7],
    )
