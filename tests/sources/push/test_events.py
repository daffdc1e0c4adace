"""Order events: what is read from them, what is refused with which reason, one spelling per version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import push_event, vtex_order
from ordersync.errors import BadRecordError
from ordersync.sources.push.events import parse_item, parse_value, units
from support.properties import examples

SP = ZoneInfo("America/Sao_Paulo")


def event(**changes: Any) -> dict[str, Any]:
    """The event the assertions below read (`...` leaves a field out)."""
    fields: dict[str, Any] = {
        "order_id": "A-1",
        "event_time": "2026-12-01T02:30:00Z",
        "status": "invoiced",
        "total_value": "129.90",
        "currency_code": "BRL",
        "creation_date": "2026-12-01T02:00:00Z",
        "customer": {"id": "c-1", "email": "ana@example.com", "name": "Ana Lima", "document": "123"},
        "coupon": "BLACK10",
    }
    return push_event(**(fields | changes))


def test_an_event_becomes_a_version_in_the_tenants_time_zone() -> None:
    v = parse_value(event(), SP)
    assert (v.order_id, v.status, v.total_value, v.currency_code) == ("A-1", "invoiced", Decimal("129.90"), "BRL")
    assert (v.customer_id, v.customer_email, v.customer_name) == ("c-1", "ana@example.com", "Ana Lima")
    assert str(v.order_date) == "2026-11-30"  # 02:00 UTC is the evening before in Sao Paulo
    assert orjson.loads(v.payload)["coupon"] == "BLACK10"  # other fields are kept


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"order_id": ...}, "order_id is missing"),
        ({"order_id": " A"}, "white space"),
        ({"event_time": "yesterday"}, "event_time 'yesterday' is not an ISO-8601"),
        ({"creation_date": ...}, "creation_date is missing"),
        ({"status": ""}, "status is missing or empty"),
        ({"total_value": "12,90"}, "not a decimal number"),
        ({"total_value": -1}, "negative"),
        ({"total_value": True}, "not a number"),
        ({"total_value": "0.001"}, "two decimal places"),
        ({"total_value": 1e300}, "too large"),
        ({"currency_code": None}, "currency_code is missing"),
        ({"customer": "ana"}, "customer is a string, not an object"),
    ],
)
def test_bad_events_say_what_is_wrong(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRecordError, match=reason):
        parse_value(event(**changes), SP)


def test_items_that_are_neither_events_nor_vtex_orders() -> None:
    with pytest.raises(BadRecordError, match="neither an order event"):
        parse_item(b'{"id": 1}', SP)
    with pytest.raises(BadRecordError, match="not valid JSON"):
        parse_item(b"{", SP)
    with pytest.raises(BadRecordError, match="a list, not an order object"):
        parse_item(b"[1]", SP)


def test_a_vtex_body_pushed_is_read_as_the_pull_reads_it() -> None:
    body = vtex_order("V-1", value=12990, storePreferencesData={"currencyCode": "BRL"})
    v = parse_value(body, SP)
    assert (v.order_id, v.total_value, v.currency_code) == ("V-1", Decimal("129.90"), "BRL")


@settings(max_examples=examples(100))
@given(
    cents=st.integers(min_value=0, max_value=10**12),
    as_text=st.booleans(),
    nulls=st.booleans(),
    order=st.permutations(["order_id", "event_time", "status", "total_value", "currency_code", "creation_date"]),
)
def test_one_version_has_one_spelling(cents: int, as_text: bool, nulls: bool, order: list[str]) -> None:
    """Number or string total, key order, nulls for absent fields: the same version, the same hash."""
    units_text = f"{cents // 100}.{cents % 100:02d}"
    plain = event(total_value=units_text)
    other = {k: plain[k] for k in order} | {k: v for k, v in plain.items() if k not in order}
    other["total_value"] = units_text if as_text else cents / 100 if cents < 2**50 else units_text
    if nulls:
        other["sales_channel"] = None
    a, b = parse_value(plain, SP), parse_value(other, SP)
    assert (a.payload_hash, a.total_value) == (b.payload_hash, b.total_value)


def test_units_reads_numbers_and_decimal_strings() -> None:
    assert units(0) == Decimal("0.00") and str(units(-0.0)) == "0.00"
    assert units("129.9") == Decimal("129.90") and units(129.9) == Decimal("129.90")
