"""Bad records are quarantined with a clear reason while the rest of the batch lands."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import vtex_order, vtex_order_json
from ordersync.clock import ManualClock
from ordersync.errors import BadRecordError
from ordersync.land import Lander, parse_order
from ordersync.warehouse import Warehouse
from support.properties import examples

BA = ZoneInfo("America/Argentina/Buenos_Aires")


def test_parse_extracts_the_landing_fields() -> None:
    raw = vtex_order_json(
        "v1-01",
        value=15990,
        creationDate="2024-05-01T02:32:10.0000000+00:00",
        lastChange="2024-05-01T15:05:41.7010747+00:00",
        clientProfileData={
            "email": "maria@example.com",
            "firstName": "Maria",
            "lastName": "Silva",
            "userProfileId": "u-1",
        },
        storePreferencesData={"currencyCode": "BRL"},
    )
    v = parse_order(raw, BA)
    assert v.order_id == "v1-01"
    assert str(v.total_value) == "159.90"
    # created 02:32 UTC on May 1st is still April 30th in Buenos Aires
    assert v.order_date.isoformat() == "2024-04-30"
    assert v.event_time == datetime(2024, 5, 1, 15, 5, 41, 701074, tzinfo=UTC)
    assert (v.customer_email, v.customer_name, v.customer_id, v.currency_code) == (
        "maria@example.com",
        "Maria Silva",
        "u-1",
        "BRL",
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"orderId": "x", "value": 1', "not valid JSON"),
        (b"[1, 2]", "not an order object"),
        (vtex_order_json(orderId=None), "orderId is missing"),
        (vtex_order_json(lastChange="last tuesday"), "lastChange 'last tuesday' is not an ISO-8601 date"),
        (vtex_order_json(creationDate=None), "creationDate is missing"),
        (vtex_order_json(value="12,50"), "value '12,50' is not a number of cents"),
        (vtex_order_json(value=True), "is not a number of cents"),
    ],
)
def test_bad_records_say_what_is_wrong(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRecordError, match=reason):
        parse_order(raw, BA)


def test_bad_records_are_quarantined_and_the_rest_lands(warehouse: Warehouse) -> None:
    warehouse.execute(
        "INSERT INTO cdp.tenants (tenant_name, account, base_url, created_at) VALUES ('t', 'a', 'http://x', ?)",
        (datetime.now(UTC),),
    )
    tid = warehouse.scalar("SELECT tenant_id FROM cdp.tenants WHERE tenant_name = 't'")
    good_1 = vtex_order_json("good-1", value=15990)
    records = [
        good_1,
        b'{"orderId": "broken"',
        vtex_order_json(orderId=None),
        vtex_order_json("bad-date", lastChange="2024-02-31T00:00:00Z"),
        vtex_order_json("bad-value", value="abc"),
        vtex_order_json("good-2", value=100),
        good_1,  # the same payload again: stored once
    ]
    lander = Lander(warehouse, ManualClock(datetime(2024, 6, 1, tzinfo=UTC)))
    result = lander.land_raw(tid, BA, records, "file", None)
    assert (result.received, result.landed, result.quarantined) == (7, 2, 4)
    landed = warehouse.query("SELECT order_id, total_value, event_ingested_at FROM cdp.orders_landing ORDER BY 1")
    assert [(r[0], str(r[1])) for r in landed] == [("good-1", "159.90"), ("good-2", "1.00")]
    assert all(r[2] == datetime(2024, 6, 1, tzinfo=UTC) for r in landed)
    quarantined = warehouse.query("SELECT reason, raw FROM cdp.quarantine ORDER BY quarantine_id")
    assert len(quarantined) == 4
    assert "not valid JSON" in quarantined[0][0] and quarantined[0][1] == '{"orderId": "broken"'
    assert "orderId is missing" in quarantined[1][0]
    assert "lastChange" in quarantined[2][0]
    assert "not a number of cents" in quarantined[3][0]
    # landing the same batch again changes nothing but the quarantine log
    again = lander.land_raw(tid, BA, [good_1, vtex_order_json("good-2", value=100)], "file", None)
    assert again.landed == 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(
    ["orderId", "value", "lastChange", "creationDate", "status", "salesChannel", "clientProfileData",
     "storePreferencesData"]
)  # fmt: skip


def _doc(fields: dict[str, object]) -> bytes:
    # the standard library's encoder: integers of any size, NaN written as NaN (not JSON)
    doc = vtex_order()
    doc.update(fields)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


@settings(max_examples=examples(300), deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), st.builds(_doc, st.dictionaries(_fields, _json))))
def test_parse_order_raises_nothing_but_bad_record_errors(raw: bytes) -> None:
    """Whatever the bytes hold, a Version the warehouses accept or a BadRecordError with a short reason."""
    try:
        v = parse_order(raw, BA)
    except BadRecordError as exc:
        assert 0 < len(str(exc)) < 300
        return
    assert v.order_id.strip() == v.order_id and 0 < len(v.order_id) <= 200
    assert Decimal(0) <= v.total_value < Decimal(10) ** 16 and v.total_value == v.total_value.quantize(Decimal("0.01"))
    texts = (v.status, v.currency_code, v.sales_channel, v.customer_id, v.customer_email, v.customer_name)
    assert all(t is None or "\x00" not in t for t in texts)
    assert "\x00" not in v.order_id and v.payload.encode("utf-8") == raw
    assert 1970 <= v.creation_date.year <= 2099 and 1970 <= v.event_time.year <= 2099


def test_the_sync_path_with_a_decoded_head_parses_the_same() -> None:
    from ordersync.land.order_head import decode_order_head

    for raw in (
        vtex_order_json(),
        vtex_order_json(value=-1),
        vtex_order_json("x" * 300),
        vtex_order_json(status="a\x00b"),
    ):
        try:
            alone = parse_order(raw, BA)
        except BadRecordError as exc:
            with pytest.raises(BadRecordError, match=re.escape(str(exc))):
                parse_order(raw, BA, decode_order_head(raw))
        else:
            assert parse_order(raw, BA, decode_order_head(raw)) == alone
