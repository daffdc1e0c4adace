"""The API the sync engine is written against, pinned."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import get_args

import pytest

import ordersync.sources.vtex as vtex
from ordersync.errors import TransientSourceError
from ordersync.land.order_head import decode_order_head
from ordersync.sources.http.transport import ClientStats, MalformedBodyError
from ordersync.sources.vtex import DateField, ListEntry, VtexClient


def test_exported_names() -> None:
    assert set(vtex.__all__) == {"MAX_PAGES", "DateField", "ListEntry", "OrderBody", "VtexClient", "client_for"}


def test_order_body_keeps_the_raw_bytes_with_the_decoded_head() -> None:
    raw = b'{"orderId": "x", "value": 1990, "items": [{"id": "1"}], "clientProfileData": {"email": "a@b.c"}}'
    body = vtex.OrderBody(raw, decode_order_head(raw))
    assert body.raw == raw
    assert body.head.order_id == "x" and body.head.value == 1990
    assert body.head.client_profile_data == {"email": "a@b.c"}
    assert body.head.last_change is None  # absent fields are None, for parse_order to name


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"order"', b"null", b'{"orderId": "x"', b'{"orderId": "x"} trailing'])
def test_decode_order_head_refuses_what_is_not_one_json_object(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_order_head(raw)


def test_list_entry_and_stats_fields() -> None:
    assert [f.name for f in dataclasses.fields(ListEntry)] == [
        "order_id",
        "creation_date",
        "last_change",
        "status",
        "total_value_cents",
    ]
    assert ListEntry.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert vars(ClientStats()) == {
        "list_calls": 0,
        "get_calls": 0,
        "retries": 0,
        "throttled": 0,
        "splits": 0,
        "bad_list_items": 0,
        "throttle_wait_seconds": 0.0,
        "pace_wait_seconds": 0.0,
    }
    assert set(get_args(DateField)) == {"creationDate", "authorizedDate", "invoicedDate"}
    assert issubclass(MalformedBodyError, TransientSourceError)
    assert MalformedBodyError("m", 200, body=b"{").body == b"{"
    assert MalformedBodyError("m").body is None


def test_client_signature() -> None:
    params = inspect.signature(VtexClient.__init__).parameters
    assert list(params) == [
        "self",
        "base_url",
        "app_key",
        "app_token",
        "concurrency",
        "per_page",
        "max_retries",
        "max_backoff",
        "timeout",
        "sleep",
        "requests_per_minute",
        "pacer_key",
        "max_throttle_wait",
    ]
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    assert defaults == {
        "concurrency": 16,
        "per_page": 100,
        "max_retries": 8,
        "max_backoff": 60.0,
        "timeout": 30.0,
        "sleep": asyncio.sleep,
        "requests_per_minute": None,
        "pacer_key": None,
        "max_throttle_wait": 900.0,
    }
    assert inspect.isasyncgenfunction(VtexClient.list_window)
    assert inspect.isasyncgenfunction(VtexClient.get_orders)
    assert inspect.iscoroutinefunction(VtexClient.get_order)
    assert list(inspect.signature(VtexClient.list_window).parameters) == ["self", "field", "start", "end"]
