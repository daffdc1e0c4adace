"""A pushed request body, read into items: a JSON array, or NDJSON (one item per line)."""

from __future__ import annotations

import orjson

from ordersync.errors import BadRecordError
from ordersync.land.intake import Item

_BOM = b"\xef\xbb\xbf"


class UnreadableBodyError(BadRecordError):
    """The body as a whole cannot be read: nothing in it lands (HTTP 400)."""


def json_items(body: bytes) -> list[Item]:
    try:
        value = orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        raise UnreadableBodyError(f"the body is not valid JSON ({exc}); send a JSON array of order events") from None
    if not isinstance(value, list):
        raise UnreadableBodyError(
            "the body is not a JSON array; send [event, ...], or NDJSON with Content-Type: application/x-ndjson"
        )
    # each element's bytes are its canonical JSON: a bad one is quarantined as it was sent, re-spelled
    return [Item(orjson.dumps(v), value=v) for v in value]


def ndjson_items(body: bytes) -> list[Item]:
    """One item per non-blank line; a line that is not JSON is quarantined, not the body refused."""
    lines = body.removeprefix(_BOM).split(b"\n")
    return [Item(line.rstrip(b"\r")) for line in lines if line.strip()]
