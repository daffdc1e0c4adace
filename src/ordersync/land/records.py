"""Parse one raw order payload (VTEX get-order shape) into a landable version, or say why not.

Every record either becomes a Version that both warehouses accept as is, or raises BadRecordError
with a reason a person can act on; nothing else escapes, so one record can never sink its batch.
The rules, where VTEX's documentation leaves a choice:

- The body is JSON (RFC 8259): UTF-8, at most MAX_PAYLOAD_BYTES (a get-order body is 10-15 KB);
  a leading byte-order mark is ignored. With a key given twice the last one counts, as in
  JavaScript, Python and PostgreSQL's jsonb. The payload is stored exactly as received.
- orderId: a string of 1-200 characters, no control, zero-width or bidi characters (ordersync.text),
  no surrounding white space.
- lastChange, creationDate: ISO-8601 strings between MIN_YEAR and MAX_YEAR; VTEX sends a zone, and
  a date without one is taken as UTC. A date without a time of day is refused.
- value: a whole number of cents, zero or more, at most MAX_CENTS (one order's total bound, the same
  for pushed events: 12 integer digits, so that a day's sum of any number of them fits the models).
- storePreferencesData.currencyCode: ISO 4217's form, three ASCII letters (`currency_field`), stored
  upper-case, or absent.
- status, salesChannel and customer fields: strings (an integer is taken as its digits)
  of at most MAX_TEXT characters; NUL characters are dropped (PostgreSQL text cannot hold them).
  clientProfileData and storePreferencesData are objects or absent.
- clientProfileData.document, .documentType and .phone are kept raw (`identifier_field`): they are
  checked and normalised where customers are resolved, and a bad one never refuses the order.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.dates import parse_vtex_datetime
from ordersync.errors import BadRecordError, NotAnObjectError
from ordersync.land.order_head import OrderHead, decode_order_head
from ordersync.text import printable, unsafe_character, without_nul

#: UTF-8's byte-order mark: ignored before any JSON body, pulled, pushed or in a file.
BOM = b"\xef\xbb\xbf"
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_ORDER_ID = 200
MAX_TEXT = 1000
# One order's total, pushed or pulled: at most 12 integer digits (999,999,999,999.99). It fits
# total_value NUMERIC(18, 2), and a day's sum of a million such orders fits 38 digits many times over.
MAX_CENTS = 10**14 - 1
MAX_UNITS = Decimal(MAX_CENTS) / 100
MIN_YEAR, MAX_YEAR = 1970, 2099
# ISO 4217's form of a currency code; lower case is read as upper case, so one code is one spelling.
_CURRENCY = re.compile("[A-Za-z]{3}")
_INT_TEXT_LIMIT = 10**MAX_TEXT
#: White space trimmed from an identifier's ends: ASCII only, the same set the migration that filled
#: older rows trims in SQL (0012_customer_identifiers).
IDENTIFIER_SPACE = " \t\n\v\f\r"
# Python's ISO parser takes any one character before the zone ("10:00:00xZ"): only these pass to it.
_DATE_TEXT = re.compile(r"[0-9:.,+\-TZ ]{10,40}")


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
    #: the customer's identifiers as sent, trimmed (identifier_field)
    customer_document: str | None = None
    customer_document_type: str | None = None
    customer_phone: str | None = None


def payload_hash(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def show(value: Any, limit: int = 60) -> str:
    """repr() of a value cut to `limit` characters, so a reason never carries a huge field."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def as_bytes(raw: bytes | str) -> bytes:
    """The record's bytes; a str holding lone surrogates keeps them (they then fail as invalid UTF-8)."""
    return raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogatepass")


def order_id_of(raw: bytes | str) -> str | None:
    """The orderId of a record, best effort, for the quarantine's order_id column: None when the record
    has none that can be shown (not JSON, not a string, too long); control, zero-width and bidi
    characters escaped (such an id never lands, and whoever reads the column sees what it holds)."""
    try:
        value = decode_order_head(as_bytes(raw).removeprefix(BOM)).order_id
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ORDER_ID:
        return None
    return printable(value)


def order_id_field(value: Any, key: str = "orderId") -> str:
    if value is None:
        raise BadRecordError(f"{key} is missing")
    if not isinstance(value, str):
        raise BadRecordError(f"{key} {show(value)} is not a string")
    if not value.strip():
        raise BadRecordError(f"{key} {show(value)} is empty or only white space")
    if len(value) > MAX_ORDER_ID:
        raise BadRecordError(f"{key} is {len(value):,} characters long; at most {MAX_ORDER_ID} are allowed")
    problem = unsafe_character(value)
    if problem is not None:
        raise BadRecordError(
            f"{key} {show(value)} holds {problem}; an id holds no control, zero-width or bidi characters"
        )
    if value != value.strip():
        raise BadRecordError(f"{key} {show(value)} starts or ends with white space")
    return value


def date_field(value: Any, key: str) -> datetime:
    if value is None:
        raise BadRecordError(f"{key} is missing")
    if not isinstance(value, str):
        raise BadRecordError(f"{key} {show(value)} is not a date string")
    try:
        if not _DATE_TEXT.fullmatch(value):
            raise ValueError(value)
        parsed = parse_vtex_datetime(value)
    except (ValueError, OverflowError):
        raise BadRecordError(f"{key} {show(value)} is not an ISO-8601 date and time") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise BadRecordError(f"{key} {show(value)} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return parsed


def _total(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecordError(f"value {show(value)} is not a number of cents")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRecordError(f"value {show(value)} is not a number of cents")
    if value < 0:
        raise BadRecordError(f"value {show(value)} is negative; an order total is zero or more cents")
    if value > MAX_CENTS:
        raise BadRecordError(
            f"value {show(value)} is too large; an order's total is at most {MAX_CENTS:,} cents ({MAX_UNITS:,})"
        )
    if value == 0:
        return Decimal("0.00")  # never -0.00
    if isinstance(value, float) and not value.is_integer():
        raise BadRecordError(f"value {show(value)} has a fraction of a cent; VTEX's value is a whole number of cents")
    return Decimal(int(value)).scaleb(-2)


def currency_field(value: Any, key: str) -> str | None:
    """A currency code: ISO 4217's form, three ASCII letters, upper-cased (one code, one revenue row);
    None when absent (or empty)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecordError(f"{key} {show(value)} is not a string")
    if not _CURRENCY.fullmatch(value):
        raise BadRecordError(f"{key} {show(value)} is not a currency code: use ISO 4217's three letters, e.g. BRL")
    return value.upper()


def text_field(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_TEXT_LIMIT:
        value = str(value)
    if not isinstance(value, str):
        raise BadRecordError(f"{key} {show(value)} is not a string")
    if len(value) > MAX_TEXT:
        raise BadRecordError(f"{key} is {len(value):,} characters long; at most {MAX_TEXT:,} are allowed")
    return without_nul(value) or None


def identifier_field(value: Any) -> str | None:
    """A customer identifier as landed (a document, its type, a phone): the text as sent, NUL dropped
    (as in the order's other text) and trimmed. It never refuses a record: anything but text or a
    whole number, or longer than MAX_TEXT, is no identifier (None). Validation and normalisation
    belong to the customers room. The migration 0012 applies the same rule in SQL to older rows."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_TEXT_LIMIT:
        value = str(value)
    if not isinstance(value, str):
        return None
    text = without_nul(value).strip(IDENTIFIER_SPACE)
    return text if text and len(text) <= MAX_TEXT else None


def object_field(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecordError(f"{key} is {json_kind(value)}, not an object")
    return value


def json_kind(value: Any) -> str:
    """What a JSON value is, in words, for a reason."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


def payload_text(data: bytes) -> str:
    if len(data) > MAX_PAYLOAD_BYTES:
        raise BadRecordError(
            f"payload is {len(data):,} bytes; at most {MAX_PAYLOAD_BYTES:,} are landed (a get-order body is 10-15 KB)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {data[exc.start]:#04x} at offset {exc.start}"
        raise BadRecordError(f"payload is not valid UTF-8 ({where})") from None


def _head(data: bytes) -> OrderHead:
    try:
        return decode_order_head(data)
    except NotAnObjectError as exc:
        message = str(exc)
        if message.startswith("Expected `object`"):
            raise BadRecordError(f"payload is not an order object ({message})") from None
        raise BadRecordError(f"payload cannot be read: {message}") from None
    except ValueError as exc:
        raise BadRecordError(f"payload is not valid JSON ({exc})") from None
    except RecursionError:
        raise BadRecordError("payload is nested too deeply to read") from None


def parse_order(raw: bytes | str, tz: ZoneInfo, head: OrderHead | None = None) -> Version:
    """Parse a get-order body. Raises BadRecordError with a reason a person can act on, and nothing else.

    `head`, when given, is the body's head fields already decoded from `raw` (not decoded again).
    """
    data = as_bytes(raw).removeprefix(BOM)
    text = payload_text(data)
    if head is None:
        head = _head(data)
    order_id = order_id_field(head.order_id)
    event_time = date_field(head.last_change, "lastChange")
    creation = date_field(head.creation_date, "creationDate")
    total = _total(head.value)
    client = object_field(head.client_profile_data, "clientProfileData")
    store = object_field(head.store_preferences_data, "storePreferencesData")
    first = text_field(client.get("firstName"), "clientProfileData.firstName")
    last = text_field(client.get("lastName"), "clientProfileData.lastName")
    return Version(
        order_id=order_id,
        event_time=event_time,
        order_date=creation.astimezone(tz).date(),
        creation_date=creation,
        status=text_field(head.status, "status"),
        total_value=total,
        currency_code=currency_field(store.get("currencyCode"), "storePreferencesData.currencyCode"),
        sales_channel=text_field(head.sales_channel, "salesChannel"),
        customer_id=text_field(client.get("userProfileId"), "clientProfileData.userProfileId"),
        customer_email=text_field(client.get("email"), "clientProfileData.email"),
        customer_name=" ".join(n for n in (first, last) if n) or None,
        payload=text,
        payload_hash=payload_hash(data),
        customer_document=identifier_field(client.get("document")),
        customer_document_type=identifier_field(client.get("documentType")),
        customer_phone=identifier_field(client.get("phone")),
    )
