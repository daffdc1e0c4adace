"""A pushed request body, read into items: a JSON array, or NDJSON (one item per line)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

from ordersync.errors import UnreadableBodyError
from ordersync.land.intake import Item
from ordersync.land.records import BOM

# A whole string (escapes included), or one structural character.
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{},"]', re.S)
_SPACE = b" \t\r\n"


def json_items(body: bytes) -> list[Item]:
    data = body.removeprefix(BOM)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # One element the decoder refuses (nested too deeply, a number out of range, bytes that are
        # not UTF-8) is that element's problem: split the array and let each element be parsed alone.
        elements = _elements(data)
        if elements is None:
            raise UnreadableBodyError(
                f"the body is not valid JSON ({exc}); send a JSON array of order events"
            ) from None
        return [Item(e) for e in elements]
    if not isinstance(value, list):
        raise UnreadableBodyError(
            "the body is not a JSON array; send [event, ...], or NDJSON with Content-Type: application/x-ndjson"
        )
    # each element's bytes are its canonical JSON: a bad one is quarantined as it was sent, re-spelled
    try:
        items = [Item(orjson.dumps(v), value=v) for v in value]
    except orjson.JSONEncodeError:  # an element nested deeper than it can be written: each element as sent
        return [Item(e) for e in _elements(data) or []]
    if any(_float_total(v) for v in value):
        return _exact_totals(data, value, items)
    return items


def _float_total(value: object) -> bool:
    """An order event (a VTEX body, with orderId, is parsed as sent) whose total orjson read as a float."""
    return isinstance(value, dict) and "orderId" not in value and isinstance(value.get("total_value"), float)


def _exact_totals(data: bytes, value: list[Any], items: list[Item]) -> list[Item]:
    """The items, each total that orjson read as a float read again from its text as a Decimal (a
    float keeps about 16 significant digits: 1234567890123456.78 would become ...456.8). The body
    is decoded once more by the standard library, only when some total needs it; the item's bytes
    are its canonical spelling with the total's text as sent."""
    try:
        texts = json.loads(data, parse_float=str)  # each number with a fraction or exponent: its text
    except (ValueError, RecursionError):  # nested deeper than it reads: the parser says what it can
        return items
    out = []
    for item, v, t in zip(items, value, texts, strict=True):
        total = t.get("total_value") if _float_total(v) and isinstance(t, dict) else None
        if isinstance(total, str):
            v = {**v, "total_value": Decimal(total)}
            item = Item(orjson.dumps({**v, "total_value": orjson.Fragment(total)}), value=v)
        out.append(item)
    return out


def _elements(data: bytes) -> list[bytes] | None:
    """The bytes of each element of a top-level JSON array, as sent; None when `data` is not one
    array whose brackets and strings all close, with nothing after it."""
    start = len(data) - len(data.lstrip(_SPACE))
    if data[start : start + 1] != b"[":
        return None
    out: list[bytes] = []
    depth, begin = 1, start + 1
    for token in _TOKEN.finditer(data, start + 1):
        t = token.group()
        if t == b'"':  # a string that never closes
            return None
        if t in (b"[", b"{"):
            depth += 1
        elif t in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                element = data[begin : token.start()].strip(_SPACE)
                if element or out:
                    out.append(element)
                rest = data[token.end() :].strip(_SPACE)
                return out if not rest and all(out) else None
        elif t == b"," and depth == 1:
            out.append(data[begin : token.start()].strip(_SPACE))
            begin = token.end()
    return None


def ndjson_items(body: bytes) -> list[Item]:
    """One item per non-blank line; a line that is not JSON is quarantined, not the body refused."""
    lines = body.removeprefix(BOM).split(b"\n")
    return [Item(line.rstrip(b"\r")) for line in lines if line.strip()]
