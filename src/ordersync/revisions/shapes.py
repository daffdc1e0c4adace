"""Revenue answers as the CLI's `--json` and the API give them: one home for both item shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import IO, Any

from ordersync.revisions.asof import DayDiff, DayRevenue
from ordersync.sheets import write_csv

_CENT = Decimal("0.01")


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def day_key(day: DayRevenue | DayDiff, names: dict[int, str]) -> tuple[str, str, str]:
    """A revenue day's place in the API's lists (tenant name, day, currency): the key of the item
    `revenue_row` or `diff_item` makes of it."""
    return (names.get(day.tenant_id, str(day.tenant_id)), day.order_date.isoformat(), day.currency_code)


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


def cents(value: Decimal | None) -> Decimal | None:
    """An amount as a number to the cent (CSV: a number a spreadsheet sums, never text)."""
    return None if value is None else value.quantize(_CENT)


def revenue_csv(days: Sequence[DayRevenue], names: dict[int, str], out: IO[str]) -> None:
    """`revenue --csv`: the --json days' columns, amounts as numbers; the tenant and currency cells
    are text from outside (sheets' rule). The one writer for the CLI and serve's download."""
    columns = list(revenue_row(DayRevenue(0, date.min, ""), {}).keys())
    write_csv(columns, [revenue_row(d, names, cents) for d in days], out)


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
