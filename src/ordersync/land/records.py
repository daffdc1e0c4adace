"""Parse one raw order payload (VTEX get-order shape) into a landable version, or say why not."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.dates import parse_vtex_datetime
from ordersync.errors import BadRecordError
from ordersync.extract.order_head import NotAnObjectError, OrderHead, decode_order_head

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Version:
    """One version of one order, as it will be landed."""

    order_id: str
    event_time: datetime
    order_date: date
    creation_date: datetime
    status: str | None
    total_value: Decimal
    currency_code: str | None
    sales_channel: str | None
    customer_id: str | None
    customer_email: str | None
    customer_name: str | None
    payload: str
    payload_hash: str


def payload_hash(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _date_field(value: Any, key: str) -> datetime:
    if value is None:
        raise BadRecordError(f"{key} is missing")
    if not isinstance(value, str):
        raise BadRecordError(f"{key} {value!r} is not a date string")
    try:
        return parse_vtex_datetime(value)
    except ValueError:
        raise BadRecordError(f"{key} {value!r} is not an ISO-8601 date") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def parse_order(raw: bytes | str, tz: ZoneInfo, head: OrderHead | None = None) -> Version:
    """Parse a get-order body. Raises BadRecordError with a reason a person can act on.

    `head`, when given, is the body's head fields already decoded from `raw` (not decoded again).
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if head is None:
        try:
            head = decode_order_head(data)
        except NotAnObjectError as exc:
            raise BadRecordError(f"payload is not an order object ({exc})") from None
        except ValueError as exc:
            raise BadRecordError(f"payload is not valid JSON ({exc})") from None
    order_id = head.order_id
    if not isinstance(order_id, str) or not order_id.strip():
        raise BadRecordError("orderId is missing or empty")
    event_time = _date_field(head.last_change, "lastChange")
    creation = _date_field(head.creation_date, "creationDate")
    value = head.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRecordError(f"value {value!r} is not a number of cents")
    client = head.client_profile_data
    if not isinstance(client, dict):
        client = {}
    names = [n for n in (client.get("firstName"), client.get("lastName")) if isinstance(n, str) and n]
    store = head.store_preferences_data
    return Version(
        order_id=order_id,
        event_time=event_time,
        order_date=creation.astimezone(tz).date(),
        creation_date=creation,
        status=_text(head.status),
        total_value=(Decimal(str(value)) / 100).quantize(_CENT),
        currency_code=_text(store.get("currencyCode")) if isinstance(store, dict) else None,
        sales_channel=_text(head.sales_channel),
        customer_id=_text(client.get("userProfileId")),
        customer_email=_text(client.get("email")),
        customer_name=" ".join(names) or None,
        payload=data.decode("utf-8", errors="replace"),
        payload_hash=payload_hash(data),
    )
