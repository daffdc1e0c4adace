"""What the list endpoint tells us about an order, and the client's counters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
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


@dataclass
class ClientStats:
    """Counters for one client. Calls count logical requests; `retries` counts the extra attempts
    (after 429s included); `throttled` the answers that were 429; `throttle_wait_seconds` the seconds
    requests waited because of 429s (their own Retry-After or the account's hold);
    `pace_wait_seconds` the seconds they waited for the account's budget."""

    list_calls: int = 0
    get_calls: int = 0
    retries: int = 0
    throttled: int = 0
    splits: int = 0
    bad_list_items: int = 0
    throttle_wait_seconds: float = 0.0
    pace_wait_seconds: float = 0.0


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
