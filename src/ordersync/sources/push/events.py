"""Pushed items: an order event, or a VTEX get-order body as is, each turned into a Version.

An order event is a full snapshot of the order as of its event_time, not a delta:

    {"order_id": "A-1001", "event_time": "2026-12-01T10:15:00Z", "status": "payment-approved",
     "total_value": "129.90", "currency_code": "BRL", "creation_date": "2026-12-01T10:02:00Z",
     "sales_channel": "app", "customer": {"id": "c-1", "email": "...", "name": "...",
     "document": "...", "document_type": "cpf", "phone": "..."}, ...any other fields, kept}

total_value is in currency units (a JSON number or a decimal string, at most two decimal places and
twelve integer digits), never cents; a JSON number is read from its text, never through a float.
currency_code is ISO 4217's form, three ASCII letters, kept upper-case. The customer's document,
document_type and phone are read as sent (records.identifier_field): a bad one never refuses the
event. The landed payload is the item in one canonical spelling (sorted keys, no nulls, the total,
currency and dates written one way), so the same event pushed as a JSON array, as NDJSON, or read
from a CSV or Parquet file is the same version and lands once.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ordersync.errors import BadRecordError
from ordersync.land.intake import Item
from ordersync.land.records import (
    BOM,
    MAX_ORDER_ID,
    MAX_UNITS,
    Version,
    as_bytes,
    currency_field,
    date_field,
    identifier_field,
    json_kind,
    object_field,
    order_id_field,
    parse_order,
    payload_hash,
    payload_text,
    show,
    text_field,
)
from ordersync.text import printable

_CENT = Decimal("0.01")
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
#: The event's fields ordersync reads; every other field is kept in the payload as sent.
EVENT_FIELDS = ("order_id", "event_time", "status", "total_value", "currency_code", "creation_date")
CUSTOMER_FIELDS = ("id", "email", "name", "document", "document_type", "phone")


def parse_pushed(item: Item, tz: ZoneInfo) -> Version:
    """The Intake parser for pushed and ingested items."""
    return parse_item(item.raw, tz) if item.value is None else parse_value(item.value, tz, item.raw)


def parse_item(raw: bytes | str, tz: ZoneInfo) -> Version:
    """An order event or a VTEX get-order body. Raises BadRecordError (only) with a reason to act on."""
    data = as_bytes(raw).removeprefix(BOM)
    payload_text(data)  # size and UTF-8, with their own reasons
    try:
        item = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRecordError(f"item is not valid JSON ({exc})") from None
    return parse_value(item, tz, data)


def parse_value(item: Any, tz: ZoneInfo, raw: bytes | str | None = None) -> Version:
    """An item already decoded from JSON (an element of a pushed array, a row of a file); `raw`, the
    JSON it was decoded from when there is one, is where a total sent as a number is read exactly."""
    if not isinstance(item, dict):
        raise BadRecordError(f"item is {json_kind(item)}, not an order object")
    if "orderId" in item:
        # one spelling of the body, whichever way it came (array element, NDJSON line, file row)
        return parse_order(orjson.dumps(item), tz)
    if any(k in item for k in EVENT_FIELDS):  # an event, maybe without its order_id: say so
        return parse_event(item, tz, raw)
    raise BadRecordError(
        "item is neither an order event (it has no order_id) nor a VTEX order body (it has no orderId)"
    )


def parse_event(event: dict[str, Any], tz: ZoneInfo, raw: bytes | str | None = None) -> Version:
    order_id = order_id_field(event.get("order_id"), "order_id")
    event_time = date_field(event.get("event_time"), "event_time")
    creation = date_field(event.get("creation_date"), "creation_date")
    status = _required_text(event.get("status"), "status")
    total = units(exact_total(event.get("total_value"), raw))
    currency = currency_field(event.get("currency_code"), "currency_code")
    if currency is None:
        raise BadRecordError("currency_code is missing or empty")
    customer = object_field(event.get("customer"), "customer")
    canonical = _dropping_nulls(event)
    canonical["total_value"] = str(total)
    canonical["currency_code"] = currency
    canonical["event_time"] = event_time.isoformat()
    canonical["creation_date"] = creation.isoformat()
    if customer:
        canonical["customer"] = _dropping_nulls(customer)
    try:
        payload = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:  # a key that is not text (only possible from a typed file row)
        raise BadRecordError(f"item cannot be written as JSON ({exc})") from None
    return Version(
        order_id=order_id,
        event_time=event_time,
        order_date=creation.astimezone(tz).date(),
        creation_date=creation,
        status=status,
        total_value=total,
        currency_code=currency,
        sales_channel=text_field(event.get("sales_channel"), "sales_channel"),
        customer_id=text_field(customer.get("id"), "customer.id"),
        customer_email=text_field(customer.get("email"), "customer.email"),
        customer_name=text_field(customer.get("name"), "customer.name"),
        payload=payload_text(payload),  # within the size any payload may have, however it came
        payload_hash=payload_hash(payload),
        customer_document=identifier_field(customer.get("document")),
        customer_document_type=identifier_field(customer.get("document_type")),
        customer_phone=identifier_field(customer.get("phone")),
    )


def exact_total(value: Any, raw: bytes | str | None) -> Any:
    """total_value as sent. orjson decodes a JSON number with a fraction to a float, which keeps
    about 16 significant digits (1234567890123456.78 becomes ...456.8): such a total is read again
    from the item's JSON text, as a Decimal. Items without a float total never pay for it."""
    if not isinstance(value, float) or raw is None:
        return value
    try:
        again = json.loads(as_bytes(raw).removeprefix(BOM), parse_float=Decimal)
    except (ValueError, RecursionError):  # orjson read it, so this is not expected: keep the float
        return value
    exact = again.get("total_value") if isinstance(again, dict) else None
    return exact if isinstance(exact, Decimal) else value


def units(value: Any) -> Decimal:
    """total_value: currency units, zero or more, to the cent, at most MAX_UNITS."""
    shown = show(str(value)).strip("'") if isinstance(value, Decimal) else show(value)
    if value is None:
        raise BadRecordError("total_value is missing")
    if isinstance(value, bool):
        raise BadRecordError(f"total_value {shown} is not a number of currency units")
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise BadRecordError(
                f'total_value {shown} is not a decimal number of currency units (write it like "129.90")'
            )
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadRecordError(f"total_value {shown} is not a number of currency units")
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise BadRecordError(f"total_value {shown} is not a number of currency units")
    try:
        if not amount.is_finite():
            raise BadRecordError(f"total_value {shown} is not a number of currency units")
        if amount < 0:
            raise BadRecordError(f"total_value {shown} is negative; an order total is zero or more")
        if amount > MAX_UNITS:
            raise BadRecordError(
                f"total_value {shown} is too large; an order's total is at most {MAX_UNITS:,} (12 integer digits)"
            )
        cents = amount.quantize(_CENT)
    except InvalidOperation:
        raise BadRecordError(f"total_value {shown} is not a number of currency units") from None
    if cents != amount:
        raise BadRecordError(
            f"total_value {shown} has more than two decimal places; it is in currency units, to the cent"
        )
    return cents if cents else Decimal("0.00")  # never -0.00


def item_order_id(raw: bytes | str) -> str | None:
    """The order id of an item, best effort, for the quarantine's order_id column."""
    try:
        item = orjson.loads(as_bytes(raw).removeprefix(BOM))
    except orjson.JSONDecodeError:
        return None
    return value_order_id(item)


def value_order_id(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    value = item.get("order_id", item.get("orderId"))
    if not isinstance(value, str) or not value or len(value) > MAX_ORDER_ID:
        return None
    return printable(value)  # as order_id_of: such an id never lands, and is shown escaped


def _required_text(value: Any, key: str) -> str:
    text = text_field(value, key)
    if text is None:
        raise BadRecordError(f"{key} is missing or empty")
    return text


def _dropping_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}
