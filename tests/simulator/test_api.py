"""The OMS endpoints over real HTTP: auth, paging limits, filters, index lag, date forms, errors."""

from __future__ import annotations

import re
import urllib.parse
from datetime import timedelta

import pytest

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime
from ordersync.simulator.server import RunningSimulator
from support.sim import KEY, ORDERS, START, TOKEN, call, creation_range, list_url

pytestmark = pytest.mark.integration

DAY = creation_range(START - timedelta(days=1), START)
LAG = timedelta(seconds=240)
VTEX_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,7}))?(Z|\+00:00)$")


def test_auth_is_required_and_header_names_are_case_insensitive(sim: RunningSimulator) -> None:
    url = list_url(sim, "store1")
    for headers in (
        {},
        {"X-VTEX-API-AppKey": KEY},
        {"X-VTEX-API-AppKey": KEY, "X-VTEX-API-AppToken": "wrong"},
    ):
        reply = call(url, headers)
        assert reply.status == 401
        assert "error" in reply.json()
    assert call(url, {"x-vtex-api-appkey": KEY, "X-VTEX-API-APPTOKEN": TOKEN}).status == 200
    assert call(f"{sim.base_url('store1')}{ORDERS}/1000000000000-01", {}).status == 401


def test_unknown_account_and_unknown_order_are_404_json(sim: RunningSimulator) -> None:
    reply = call(list_url(sim, "nostore"))
    assert reply.status == 404 and "nostore" in reply.json()["error"]["message"]
    for bad in ("1000000000000-01", "nonsense", "seq1"):
        reply = call(f"{sim.base_url('store1')}{ORDERS}/{bad}")
        assert reply.status == 404 and reply.json()["error"]["message"]


def test_per_page_defaults_to_15_and_is_capped_at_100(sim: RunningSimulator) -> None:
    body = call(list_url(sim, "store1", f_creationDate=DAY)).json()
    assert len(body["list"]) == 15 and body["paging"]["perPage"] == 15 and body["paging"]["currentPage"] == 1
    assert body["facets"] == [] and "reportRecordsLimit" in body
    assert len(call(list_url(sim, "store1", f_creationDate=DAY, per_page=100)).json()["list"]) == 100
    for bad in (101, 0, "ten"):
        reply = call(list_url(sim, "store1", per_page=bad))
        assert reply.status == 400 and "per_page" in reply.json()["error"]["message"]


def test_an_account_above_3000_orders_a_day_needs_more_than_30_pages(sim: RunningSimulator) -> None:
    first = call(list_url(sim, "bigstore", f_creationDate=DAY, per_page=100)).json()
    total = first["paging"]["total"]
    assert total > 3000 and first["paging"]["pages"] == -(-total // 100) > 30
    last = call(list_url(sim, "bigstore", f_creationDate=DAY, per_page=100, page=30)).json()
    assert len(last["list"]) == 100 and last["paging"]["total"] == total
    reply = call(list_url(sim, "bigstore", f_creationDate=DAY, per_page=100, page=31))
    assert reply.status == 400 and "refine" in reply.json()["error"]["message"]
    # Pages past the data (but within 30) are empty, not errors.
    small = call(list_url(sim, "store1", f_creationDate=creation_range(START - timedelta(hours=2), START)))
    pages = small.json()["paging"]["pages"]
    assert pages < 30
    assert call(list_url(sim, "store1", f_creationDate=DAY, page=30, per_page=1)).json()["list"]
    beyond = call(
        list_url(sim, "store1", f_creationDate=creation_range(START - timedelta(hours=2), START), page=pages + 1)
    )
    assert beyond.status == 200 and beyond.json()["list"] == []


def test_pages_are_disjoint_and_ordered(sim: RunningSimulator) -> None:
    window = creation_range(START - timedelta(hours=6), START)
    seen: list[str] = []
    dates: list[str] = []
    for page in (1, 2, 3):
        body = call(list_url(sim, "store1", f_creationDate=window, per_page=20, page=page)).json()
        seen += [item["orderId"] for item in body["list"]]
        dates += [item["creationDate"] for item in body["list"]]
    assert len(seen) == len(set(seen)) == 60
    parsed = [parse_vtex_datetime(d) for d in dates]
    assert parsed == sorted(parsed, reverse=True)  # default orderBy creationDate,desc
    asc = call(list_url(sim, "store1", f_creationDate=window, orderBy="totalValue,asc", per_page=100)).json()
    values = [item["totalValue"] for item in asc["list"]]
    assert values == sorted(values) and all(isinstance(v, int) for v in values)
    ids = call(list_url(sim, "store1", f_creationDate=window, orderBy="orderId,asc", per_page=100)).json()
    order_ids = [item["orderId"] for item in ids["list"]]
    assert order_ids == sorted(order_ids)
    reply = call(list_url(sim, "store1", orderBy="lastChange,desc"))
    assert reply.status == 400 and "orderBy" in reply.json()["error"]["message"]


def test_malformed_filters_are_400_with_a_message(sim: RunningSimulator) -> None:
    for value in (
        "creationDate:2025-06-01",
        "creationDate:[2025-06-01T00:00:00Z 2025-06-02T00:00:00Z]",
        "creationDate:[yesterday TO today]",
        "authorizedDate:[2025-06-01T00:00:00Z TO 2025-06-02T00:00:00Z]",
    ):
        reply = call(list_url(sim, "store1", f_creationDate=value))
        assert reply.status == 400, value
        assert "f_creationDate" in reply.json()["error"]["message"]
    assert call(list_url(sim, "store1", page=0)).status == 400
    assert call(list_url(sim, "store1", page="x")).status == 400


def test_range_filters_are_inclusive_and_accept_both_space_encodings(sim: RunningSimulator) -> None:
    items = call(list_url(sim, "store1", f_creationDate=DAY, per_page=100, f_status="invoiced")).json()["list"]
    assert items
    item = items[len(items) // 2]
    created, authorized = item["creationDate"], item["authorizedDate"]
    base = f"{sim.base_url('store1')}{ORDERS}?"
    for space in ("+", "%20"):
        query = "f_creationDate=" + urllib.parse.quote(f"creationDate:[{created} TO {created}]", safe=":[]").replace(
            "%20", space
        )
        ids = [o["orderId"] for o in call(base + query).json()["list"]]
        assert item["orderId"] in ids
    after = format_vtex_datetime(parse_vtex_datetime(created) + timedelta(microseconds=1), 6)
    later = format_vtex_datetime(parse_vtex_datetime(created) + timedelta(hours=1), 3)
    ids = [
        o["orderId"]
        for o in call(list_url(sim, "store1", f_creationDate=f"creationDate:[{after} TO {later}]")).json()["list"]
    ]
    assert item["orderId"] not in ids

    found = call(list_url(sim, "store1", f_authorizedDate=f"authorizedDate:[{authorized} TO {authorized}]")).json()
    assert item["orderId"] in [o["orderId"] for o in found["list"]]
    assert all(o["authorizedDate"] is not None for o in found["list"])
    invoiced = call(list_url(sim, "store1", f_invoicedDate="invoicedDate:[* TO *]", per_page=100)).json()
    assert invoiced["paging"]["total"] > 0
    assert {o["status"] for o in invoiced["list"]} == {"invoiced"}


def test_status_filter_takes_a_comma_list(sim: RunningSimulator) -> None:
    both = call(list_url(sim, "store1", f_creationDate=DAY, f_status="canceled,handling", per_page=100)).json()
    one = call(list_url(sim, "store1", f_creationDate=DAY, f_status="canceled", per_page=100)).json()
    other = call(list_url(sim, "store1", f_creationDate=DAY, f_status="handling", per_page=100)).json()
    assert {o["status"] for o in both["list"]} <= {"canceled", "handling"}
    assert both["paging"]["total"] == one["paging"]["total"] + other["paging"]["total"] > 0


def test_dates_use_0_to_7_fractional_digits_with_z_or_offset(sim: RunningSimulator) -> None:
    items = call(list_url(sim, "store1", f_creationDate=DAY, per_page=100)).json()["list"]
    values = [i[f] for i in items for f in ("creationDate", "lastChange", "authorizedDate") if i[f]]
    order = call(f"{sim.base_url('store1')}{ORDERS}/{items[0]['orderId']}").json()
    values += [order["creationDate"], order["lastChange"]]
    digits, zones = set(), set()
    for value in values:
        m = VTEX_DATE.match(value)
        assert m, value
        digits.add(len(m.group(1) or ""))
        zones.add(m.group(2))
        parse_vtex_datetime(value)
    assert digits == {0, 3, 6, 7} and zones == {"Z", "+00:00"}


def test_list_and_get_order_agree_once_the_index_catches_up(sim: RunningSimulator) -> None:
    window = creation_range(START - timedelta(days=2), START - timedelta(days=1, hours=20))
    for item in call(list_url(sim, "store1", f_creationDate=window, per_page=25)).json()["list"]:
        order = call(f"{sim.base_url('store1')}{ORDERS}/{item['orderId']}").json()
        assert order["status"] == item["status"]
        assert order["value"] == item["totalValue"] == sum(t["value"] for t in order["totals"])
        assert order["lastChange"] == item["lastChange"] and order["creationDate"] == item["creationDate"]
        assert order["authorizedDate"] == item["authorizedDate"]
        assert sum(i["quantity"] for i in order["items"]) == item["totalItems"]
        assert order["clientProfileData"]["firstName"] in item["clientName"]
        by_seq = call(f"{sim.base_url('store1')}{ORDERS}/seq{order['sequence']}").json()
        assert by_seq["orderId"] == order["orderId"]


def test_index_lag_hides_new_orders_and_shows_lagged_state(sim: RunningSimulator) -> None:
    now = sim.clock()
    assert now == START
    truth = {o["orderId"]: o for o in sim.truth("bigstore")}
    window = creation_range(now - timedelta(minutes=30), now)
    listed: dict[str, dict[str, object]] = {}
    for page in (1, 2):
        for item in call(list_url(sim, "bigstore", f_creationDate=window, per_page=100, page=page)).json()["list"]:
            listed[item["orderId"]] = item
    recent = {i for i, o in truth.items() if parse_vtex_datetime(o["creationDate"]) > now - LAG}
    indexed = {
        i
        for i, o in truth.items()
        if now - timedelta(minutes=30) <= parse_vtex_datetime(o["creationDate"]) <= now - LAG
    }
    assert recent and not (recent & listed.keys())
    assert indexed == listed.keys()
    for order_id in list(recent)[:5]:
        assert call(f"{sim.base_url('bigstore')}{ORDERS}/{order_id}").status == 200  # get-order is current

    stale = [i for i in listed if listed[i]["status"] != truth[i]["status"]]
    assert stale, "some orders changed status within the lag"
    for order_id in listed:
        assert parse_vtex_datetime(str(listed[order_id]["lastChange"])) <= now - LAG
    for order_id in stale[:5]:
        current = call(f"{sim.base_url('bigstore')}{ORDERS}/{order_id}").json()
        assert current["status"] == truth[order_id]["status"] != listed[order_id]["status"]
        assert parse_vtex_datetime(current["lastChange"]) > now - LAG


def test_get_order_is_404_until_the_order_is_created(sim: RunningSimulator) -> None:
    assert sim.app is not None
    cat = sim.app.stores["store1"].catalog
    now_us = sim.app.clock.effective_us()
    future = int((cat.cols.creation > now_us).argmax())
    assert int(cat.cols.creation[future]) > now_us
    reply = call(f"{sim.base_url('store1')}{ORDERS}/{cat.order_id(future)}")
    assert reply.status == 404


def test_stats_count_requests_per_route(sim: RunningSimulator) -> None:
    call(list_url(sim, "store1"))
    call(list_url(sim, "store1"), {})  # no credentials: 401
    stats = sim.stats()
    assert stats["requests"]["list"]["200"] >= 1 and stats["total"] >= 1
    assert stats["requests"]["list"]["401"] >= 1
