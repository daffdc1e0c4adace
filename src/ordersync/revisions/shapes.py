"""Revenue answers as the CLI's `--json` and the API give them: one home for both item shapes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ordersync.revisions.asof import DayDiff, DayRevenue


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def revenue_row(day: DayRevenue, names: dict[int, str], fmt: Callable[[Decimal | None], Any] = money) -> dict[str, Any]:
    """One (tenant, day, currency) of revenue; amounts as `fmt` writes them (text to the cent)."""
    return {
        "tenant": names.get(day.tenant_id, str(day.tenant_id)),
        "date": day.order_date.isoformat(),
        "currency": day.currency_code,
        "orders": day.orders,
        "valid_orders": day.valid_orders,
        "revenue": fmt(day.revenue),
        "pending_orders": day.pending_orders,
        "pending_value": fmt(day.pending_value),
        "canceled_orders": day.canceled_orders,
        "canceled_value": fmt(day.canceled_value),
        "average_order_value": fmt(day.average_order_value),
    }


def diff_item(d: DayDiff, names: dict[int, str]) -> dict[str, Any]:
    """A revised day: before, after, the delta and each order whose version changed."""

    def version(v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        return {
            "order_date": v["order_date"].isoformat(),
            "status": v["status"],
            "total_value": money(Decimal(v["total_value"])) if v["total_value"] is not None else None,
            "currency_code": v["currency_code"],
            "payload_hash": v["payload_hash"],
        }

    return {
        "tenant": names.get(d.tenant_id, str(d.tenant_id)),
        "date": d.order_date.isoformat(),
        "currency": d.currency_code,
        "before": revenue_row(d.before, names),
        "after": revenue_row(d.after, names),
        "delta": money(d.delta),
        "orders": [{"order_id": c.order_id, "before": version(c.before), "after": version(c.after)} for c in d.orders],
    }
