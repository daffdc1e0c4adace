"""The few fields of a VTEX get-order body that ordersync reads, decoded without building the rest.

A get-order body is 10-15 KB of JSON with hundreds of nested objects; the landing needs eight
fields and the raw bytes. Decoding into this struct still checks that the whole body is valid
JSON, but skips building Python objects for everything else, which is most of the CPU (and of
the garbage collector's work) a full parse would cost per order. The fields stay untyped here:
records.parse_order checks each one and says what is wrong with it.

It lives in land, not in sources/vtex: land parses VTEX bodies itself (land_raw, the quarantine's
retry, a quarantined record's orderId) and imports no source; the VTEX client decodes with it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ordersync.errors import NotAnObjectError


class OrderHead(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """orderId, lastChange, ... as they appear in the body (None when absent)."""

    order_id: Any = None
    last_change: Any = None
    creation_date: Any = None
    value: Any = None
    status: Any = None
    sales_channel: Any = None
    client_profile_data: Any = None
    store_preferences_data: Any = None


_DECODER = msgspec.json.Decoder(OrderHead)


def decode_order_head(body: bytes | str) -> OrderHead:
    """The order's head fields. Raises ValueError: msgspec.DecodeError for invalid JSON,
    NotAnObjectError when the JSON is an array, a string or another non-object."""
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        # The only validation a struct of Any fields does is "is this an object".
        raise NotAnObjectError(str(exc)) from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None
