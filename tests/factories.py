"""Test data: a VTEX get-order body and an order event as the push API takes it.

Each factory gives one ordinary, valid record. Keyword arguments replace top-level fields by their
wire names (`value=100`, `clientProfileData=None`, `total_value="1.50"`, `writer="b"` for a field of
your own); None keeps the field with a null value, `...` leaves it out. The dict forms are fresh
copies each call. The `_json` forms are the same record as compact JSON bytes (orjson): a request
body item, a line of a file, a quarantined record. A test whose assertion depends on a value passes
that value, even when it equals the default.

    from factories import push_event, push_event_json, vtex_order, vtex_order_json
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

#: A VTEX get-order body (GET /api/oms/pvt/orders/{orderId}), the fields ordersync reads.
VTEX_ORDER: dict[str, Any] = {
    "orderId": "v1-01",
    "status": "invoiced",
    "value": 15990,
    "creationDate": "2024-05-01T02:32:10.0000000+00:00",
    "lastChange": "2024-05-01T15:05:41.7010747+00:00",
    "salesChannel": "1",
    "clientProfileData": {
        "email": "maria@example.com",
        "firstName": "Maria",
        "lastName": "Silva",
        "userProfileId": "u-1",
    },
    "storePreferencesData": {"currencyCode": "BRL"},
}

#: An order event (a full snapshot of the order as of event_time): the fields the push API needs.
PUSH_EVENT: dict[str, Any] = {
    "order_id": "A-1",
    "event_time": "2026-12-01T10:15:00Z",
    "status": "invoiced",
    "total_value": "129.90",
    "currency_code": "BRL",
    "creation_date": "2026-12-01T10:00:00Z",
}


def _record(defaults: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(defaults)
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not ...}


def vtex_order(order_id: Any = "v1-01", **fields: Any) -> dict[str, Any]:
    """A VTEX get-order body for `order_id` (any value: a bad id is a test case too)."""
    return _record(VTEX_ORDER, {"orderId": order_id, **fields})


def vtex_order_json(order_id: Any = "v1-01", **fields: Any) -> bytes:
    return orjson.dumps(vtex_order(order_id, **fields))


def push_event(order_id: Any = "A-1", **fields: Any) -> dict[str, Any]:
    """An order event for `order_id`, as an app pushes it or a batch file holds it."""
    return _record(PUSH_EVENT, {"order_id": order_id, **fields})


def push_event_json(order_id: Any = "A-1", **fields: Any) -> bytes:
    return orjson.dumps(push_event(order_id, **fields))
