"""Taking a person out of landed data (`ordersync customers forget`): what of a payload, a quarantined
record or a version about to land is personal, and what replaces it.

A payload stays valid JSON with its shape and every order field kept (ids, dates, totals, items,
status), so builds, plans and verify read a redacted version as they read any other; its
`payload_hash` is kept too, as the version's identity. What is personal:
- every value inside the objects that describe the person (`clientProfileData`, a pushed event's
  `customer`, addresses);
- any field named like an email, phone or document, wherever it is;
- any text holding one of the person's own identifiers (an email in a note, say), anywhere, which
  also covers a record that is not JSON.

Later versions of a forgotten order are redacted as they land (Lander.land): the orders are listed
in cdp.forgotten_orders, by id alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ordersync.land.records import Version
from ordersync.warehouse import Warehouse

#: What stands where a personal value was.
REDACTED = "[redacted]"
#: Objects whose every value is about the person (matched without case).
_PERSON_OBJECTS = frozenset(
    {"clientprofiledata", "customer", "address", "selectedaddresses", "invoiceaddress", "shippingaddress",
     "billingaddress", "contactinformation", "receiver"}
)  # fmt: skip
#: Fields personal wherever they are (matched without case).
_PERSONAL_FIELDS = frozenset(
    {"email", "customeremail", "phone", "customerphone", "document", "customerdocument", "corporatedocument",
     "corporatephone", "firstname", "lastname", "receivername", "userprofileid", "customer_email",
     "customer_phone", "customer_document", "customer_name", "customer_id", "postalcode", "street"}
)  # fmt: skip
#: A forgotten person's identifiers shorter than this are not searched for in free text (a
#: document type, a short number: too likely to hit order data that is no one's).
MIN_SEARCHED = 5
#: The order columns that carry a person (cdp.orders_landing and fct_orders).
PERSON_COLUMNS = (
    "customer_id", "customer_email", "customer_name", "customer_document", "customer_document_type", "customer_phone"
)  # fmt: skip


def _pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    searched = sorted({v for v in values if v and len(v) >= MIN_SEARCHED}, key=len, reverse=True)
    if not searched:
        return None
    return re.compile("|".join(re.escape(v) for v in searched), re.IGNORECASE)


def _scrub(value: Any, pattern: re.Pattern[str] | None, personal: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: _scrub(v, pattern, personal or k.lower() in _PERSON_OBJECTS or k.lower() in _PERSONAL_FIELDS)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, pattern, personal) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if personal:
        return REDACTED
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(REDACTED, value)
    return value


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    """`text` with the person taken out: as JSON when it is JSON (see the module's rules), otherwise
    every occurrence of one of `values` (the person's identifiers as landed) replaced."""
    pattern = _pattern(values)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text if pattern is None else pattern.sub(REDACTED, text)
    return orjson.dumps(_scrub(parsed, pattern, False)).decode("utf-8")


def redact_version(version: Version, values: Iterable[str] = ()) -> Version:
    """A version of a forgotten order as it lands: its person columns empty, its payload redacted,
    its payload_hash (the version's identity) kept."""
    own = [v for v in (version.customer_email, version.customer_document, version.customer_phone) if v]
    return dataclasses.replace(
        version,
        payload=redact_text(version.payload, [*values, *own]),
        customer_id=None,
        customer_email=None,
        customer_name=None,
        customer_document=None,
        customer_document_type=None,
        customer_phone=None,
    )


def forgotten_among(wh: Warehouse, tenant_id: int, order_ids: Sequence[str]) -> set[str]:
    """Those of `order_ids` whose person was forgotten."""
    if not order_ids:
        return set()
    rows = wh.query(
        "SELECT order_id FROM cdp.forgotten_orders "
        "WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, list(order_ids)),
    )
    return {str(r[0]) for r in rows}
