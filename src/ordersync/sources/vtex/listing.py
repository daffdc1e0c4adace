"""What the list endpoint tells us about an order, and whether that is worth a get-order."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from ordersync.dates import parse_vtex_datetime

DateField = Literal["creationDate", "authorizedDate", "invoicedDate"]
DATE_FIELDS: tuple[DateField, ...] = ("creationDate", "authorizedDate", "invoicedDate")


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One list item. The list index lags and drifts, so get-order stays the truth for status and value."""

    order_id: str
    creation_date: datetime
    last_change: datetime | None
    status: str | None
    total_value_cents: int | None


def parse_list_item(item: Any) -> ListEntry | None:
    """A ListEntry, or None when the item has no orderId or no readable creationDate."""
    if not isinstance(item, dict):
        return None
    order_id = item.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        return None
    created = _optional_date(item.get("creationDate"))
    if created is None:
        return None
    status = item.get("status")
    return ListEntry(
        order_id=order_id,
        creation_date=created,
        # lastChange is not in VTEX's schema: use it when it reads, never fail the item over it.
        last_change=_optional_date(item.get("lastChange")),
        status=status if isinstance(status, str) else None,
        total_value_cents=_cents(item.get("totalValue")),
    )


def _optional_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_vtex_datetime(value)
    except ValueError:
        return None


def _cents(value: Any) -> int | None:
    # Solr keeps totalValue as a float, so it may come back as 12345.0.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    return None


@dataclass
class Known:
    """What is already landed for one order: its newest version and every payload seen."""

    event_time: datetime
    status: str | None
    total_value: Decimal
    hashes: set[str] = field(default_factory=set)


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def needs_fetch(entry: ListEntry, known: Known | None) -> bool:
    """Fetch an order that is new, or whose list entry shows a change since what was landed.

    lastChange alone is not enough: the list may print it with fewer digits than get-order, so two
    changes within one second would look equal. Status and value differences count too; a list
    that lags behind costs a fetch whose identical payload is then skipped.
    """
    if known is None:
        return True
    if entry.last_change is not None and _ms(entry.last_change) > _ms(known.event_time):
        return True
    cents = int(known.total_value * 100)
    return entry.status != known.status or (entry.total_value_cents is not None and entry.total_value_cents != cents)
