"""Bad records are quarantined with a clear reason while the rest of the batch lands."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from ordersync.clock import ManualClock
from ordersync.errors import BadRecordError
from ordersync.land import Lander, parse_order
from ordersync.warehouse import Warehouse

BA = ZoneInfo("America/Argentina/Buenos_Aires")


def order(order_id: str = "v1-01", **over: object) -> bytes:
    doc: dict[str, object] = {
        "orderId": order_id,
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
    doc.update(over)
    return orjson.dumps(doc)


def test_parse_extracts_the_landing_fields() -> None:
    v = parse_order(order(), BA)
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
        (order(orderId=None), "orderId is missing"),
        (order(lastChange="last tuesday"), "lastChange 'last tuesday' is not an ISO-8601 date"),
        (order(creationDate=None), "creationDate is missing"),
        (order(value="12,50"), "value '12,50' is not a number of cents"),
        (order(value=True), "is not a number of cents"),
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
    records = [
        order("good-1"),
        b'{"orderId": "broken"',
        order(orderId=None),
        order("bad-date", lastChange="2024-02-31T00:00:00Z"),
        order("bad-value", value="abc"),
        order("good-2", value=100),
        order("good-1"),  # the same payload again: stored once
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
    again = lander.land_raw(tid, BA, [order("good-1"), order("good-2", value=100)], "file", None)
    assert again.landed == 0
