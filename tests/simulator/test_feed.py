"""Feed v3 over real HTTP: configuration, reads, commits, visibility, retention, duplicates, no ordering."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ordersync.dates import parse_vtex_datetime
from ordersync.simulator import AccountSpec
from ordersync.simulator.server import RunningSimulator, start_in_thread
from support.sim import call, make_config, orders_api, send

pytestmark = pytest.mark.integration

SHOP = [AccountSpec("shop", 600)]
FIELDS = {"eventId", "handle", "domain", "state", "lastState", "orderId", "lastChange", "currentChange"}
RETENTION = 345_600


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with start_in_thread(make_config(accounts=SHOP, days=1, event_duplicate_rate=0.0)) as running:
        yield running


def configure(sim: RunningSimulator, body: Any) -> Any:
    reply = send(orders_api(sim, "shop", "feed/config"), "POST", body)
    assert reply.status == 200, reply.body
    return reply.json()


def read(sim: RunningSimulator, maxlot: int = 10) -> list[dict[str, Any]]:
    reply = call(orders_api(sim, "shop", f"feed?maxlot={maxlot}"))
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.json()
    return items


def commit(sim: RunningSimulator, items: list[dict[str, Any]]) -> None:
    reply = send(orders_api(sim, "shop", "feed"), "POST", {"handles": [i["handle"] for i in items]})
    assert reply.status == 200 and reply.body == b""


def drain(sim: RunningSimulator) -> list[dict[str, Any]]:
    """Read and commit until the feed answers empty."""
    seen: list[dict[str, Any]] = []
    while batch := read(sim):
        seen += batch
        commit(sim, batch)
    return seen


def quantity(sim: RunningSimulator) -> int:
    return int(call(orders_api(sim, "shop", "feed/config")).json()["quantity"])


def test_no_config_is_404_and_maxlot_must_be_1_to_10(sim: RunningSimulator) -> None:
    reply = call(orders_api(sim, "shop", "feed?maxlot=5"))
    assert reply.status == 404 and "feed configuration" in reply.json()["error"]["message"]
    assert call(orders_api(sim, "shop", "feed/config")).status == 404
    assert send(orders_api(sim, "shop", "feed/config"), "DELETE").status == 404
    assert send(orders_api(sim, "shop", "feed"), "POST", {"handles": []}).status == 404
    configure(sim, {})
    for bad in ("maxlot=0", "maxlot=11", "maxlot=ten", "maxlot=", ""):
        reply = call(orders_api(sim, "shop", f"feed?{bad}"))
        assert reply.status == 400 and "maxlot" in reply.json()["error"]["message"], bad
    assert read(sim, 1) == [] and read(sim, 10) == []  # no backfill: only what changes after the setup
    assert send(orders_api(sim, "shop", "feed"), "POST", {"nope": 1}).status == 400
    assert call(orders_api(sim, "shop", "feed?maxlot=1"), {}).status == 401
    assert send(orders_api(sim, "shop", "feed/config"), "DELETE").status == 200
    assert call(orders_api(sim, "shop", "feed?maxlot=1")).status == 404


def test_configuration_defaults_casings_and_mixed_filters(sim: RunningSimulator) -> None:
    url = orders_api(sim, "shop", "feed/config")
    default = configure(sim, {})
    assert default["filter"]["type"] == "FromWorkflow" and "invoiced" in default["filter"]["status"]
    assert default["queue"] == {"visibilityTimeoutInSeconds": 240, "MessageRetentionPeriodInSeconds": RETENTION}
    assert default["quantity"] == 0
    for casing in ("MessageRetentionPeriodInSeconds", "messageRetentionPeriodInSeconds"):
        body = configure(sim, {"queue": {"visibilityTimeoutInSeconds": 30, casing: 600_000}})
        assert body["queue"] == {"visibilityTimeoutInSeconds": 30, "MessageRetentionPeriodInSeconds": 600_000}
    assert call(url).json()["queue"]["MessageRetentionPeriodInSeconds"] == 600_000
    mixed = [
        {"type": "FromWorkflow", "status": ["invoiced"], "expression": 'status = "invoiced"'},
        {"type": "FromOrders", "status": ["invoiced"], "expression": 'status = "invoiced"'},
        {"type": "FromWorkflow", "expression": "value > 100"},
        {"type": "FromOrders", "status": ["invoiced"]},
        {"status": ["invoiced"], "expression": "value > 100"},
    ]
    for filt in mixed:
        reply = send(url, "POST", {"filter": filt})
        assert reply.status == 409, filt
    bad = [
        {"filter": {"type": "FromSomewhere"}},
        {"filter": {"type": "FromWorkflow", "status": "invoiced"}},
        {"filter": {"type": "FromOrders"}},
        {"filter": {"type": "FromOrders", "expression": "items[0].price > 3"}},
        {"queue": {"MessageRetentionPeriodInSeconds": 60}},  # below the 4-day minimum
        {"queue": {"MessageRetentionPeriodInSeconds": 2_000_000}},
        {"queue": {"visibilityTimeoutInSeconds": -1}},
    ]
    for body in bad:
        assert send(url, "POST", body).status == 400, body
    assert call(url).json()["queue"]["visibilityTimeoutInSeconds"] == 30  # refused bodies changed nothing


def test_items_follow_the_store_and_only_the_filtered_statuses(sim: RunningSimulator) -> None:
    configure(sim, {"filter": {"type": "FromWorkflow", "status": ["payment-approved", "invoiced", "canceled"]}})
    sim.advance(6 * 3600)
    sim.quiesce()
    items = drain(sim)
    assert len(items) > 30
    assert all(set(i) == FIELDS for i in items)
    assert {i["state"] for i in items} == {"payment-approved", "invoiced", "canceled"}
    assert len({i["eventId"] for i in items}) == len(items)  # no duplicates at rate 0
    assert quantity(sim) == 0
    for item in items:
        assert parse_vtex_datetime(item["lastChange"]) <= parse_vtex_datetime(item["currentChange"])
        assert item["domain"] in ("Marketplace", "Fulfillment")
    # The latest event of an order is where the store says it is now.
    truth = {o["orderId"]: o for o in sim.truth("shop")}
    latest: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: parse_vtex_datetime(i["currentChange"])):
        latest[item["orderId"]] = item
    for order_id, item in latest.items():
        order = truth[order_id]
        if order["status"] in ("payment-approved", "invoiced", "canceled"):
            assert order["status"] == item["state"]
            assert parse_vtex_datetime(order["lastChange"]) >= parse_vtex_datetime(item["currentChange"])


def test_reads_hide_items_for_the_visibility_timeout_and_only_the_latest_handle_commits(
    sim: RunningSimulator,
) -> None:
    configure(sim, {"queue": {"visibilityTimeoutInSeconds": 60, "MessageRetentionPeriodInSeconds": RETENTION}})
    sim.advance(1800)
    sim.quiesce()
    total = quantity(sim)
    first = read(sim)
    assert len(first) == 10
    rest = drain(sim)
    assert len(rest) == total - 10
    assert not {i["eventId"] for i in first} & {i["eventId"] for i in rest}  # hidden while invisible
    assert quantity(sim) == 10 and read(sim) == []
    sim.advance(59)
    assert read(sim) == []
    sim.advance(2)
    again = drain_without_commit(sim)
    assert sorted(i["eventId"] for i in again) == sorted(i["eventId"] for i in first)
    assert not {i["handle"] for i in again} & {i["handle"] for i in first}  # a new handle per read
    commit(sim, first)  # stale handles: nothing removed
    assert quantity(sim) == 10
    commit(sim, again)
    assert quantity(sim) == 0
    sim.advance(120)
    assert read(sim) == []  # committed items never come back
    feed = sim.events()["feeds"][0]
    assert feed["committed"] == total and feed["redelivered"] == 10 and feed["received"] == total + 10


def drain_without_commit(sim: RunningSimulator) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while batch := read(sim):
        seen += batch
    return seen


def test_retention_drops_old_items_committed_or_not(sim: RunningSimulator) -> None:
    configure(sim, {})
    sim.advance(3600)
    backlog = quantity(sim)
    assert backlog > 20
    held = read(sim)  # read, never committed: dropped all the same
    sim.advance(RETENTION - 3600)  # the first hour's items are not quite 4 days old yet
    assert sim.events()["feeds"][0]["expired"] == 0
    sim.advance(3600)  # items as old as the retention period go: exactly the first hour's
    feed = sim.events()["feeds"][0]
    assert feed["expired"] == backlog and feed["committed"] == 0
    config = call(orders_api(sim, "shop", "feed/config")).json()
    assert config["quantity"] == feed["quantity"] > 0
    assert config["approximateAgeOfOldestMessageInSeconds"] < RETENTION
    commit(sim, held)
    assert sim.events()["feeds"][0]["committed"] == 0


def test_duplicates_at_the_configured_rate_and_no_order() -> None:
    with start_in_thread(make_config(accounts=SHOP, days=1, event_duplicate_rate=0.2)) as sim:
        configure(sim, {})
        sim.advance(8 * 3600)
        sim.quiesce()
        feed = sim.events()["feeds"][0]
        originals = feed["enqueued"] - feed["duplicates"]
        assert originals > 1000
        assert 0.15 < feed["duplicates"] / originals < 0.25
        items = drain(sim)
        assert len(items) == feed["enqueued"]
        counts = Counter(i["eventId"] for i in items)
        assert sum(n - 1 for n in counts.values()) == feed["duplicates"]
        assert max(counts.values()) == 2
        times = [parse_vtex_datetime(i["currentChange"]) for i in items]
        assert times != sorted(times)  # no ordering guarantee
        sim.set_event_settings(duplicate_rate=0.0)
        sim.advance(3600)
        assert sim.events()["feeds"][0]["duplicates"] == feed["duplicates"]


def test_same_seed_same_feed_answers() -> None:
    def run() -> list[list[dict[str, Any]]]:
        with start_in_thread(make_config(accounts=SHOP, days=1, event_duplicate_rate=0.05)) as sim:
            configure(sim, {})
            sim.advance(1800)
            return [read(sim) for _ in range(5)]

    assert run() == run()


def test_from_orders_expression_fires_once_per_order_unless_told(sim: RunningSimulator) -> None:
    configure(sim, {"filter": {"type": "FromOrders", "expression": 'status in ["invoiced", "handling"] and value > 0'}})
    sim.advance(6 * 3600)
    once = drain(sim)
    assert once and {i["state"] for i in once} <= {"invoiced", "handling"}
    assert len({i["orderId"] for i in once}) == len(once)
    expression = 'status = "invoiced" or status = "handling"'
    configure(sim, {"filter": {"type": "FromOrders", "expression": expression, "disableSingleFire": True}})
    sim.advance(6 * 3600)
    every = drain(sim)
    per_order = Counter(i["orderId"] for i in every)
    assert max(per_order.values()) >= 2  # handling, then invoiced


def test_feed_requests_count_against_the_rate_limit() -> None:
    with start_in_thread(make_config(accounts=SHOP, days=1, rate_limit_per_minute=60)) as sim:
        configure(sim, {})
        replies = [call(orders_api(sim, "shop", "feed?maxlot=10")) for _ in range(4)]
        limited = [r for r in replies if r.status == 429]
        assert limited and int(limited[0].headers["retry-after"]) >= 1
        assert sim.stats()["requests"]["feed"]["429"] == len(limited)


def test_configurations_without_events_expire(sim: RunningSimulator) -> None:
    """A feed with no new event for its retention period is removed, as VTEX documents."""
    configure(sim, {})
    sim.quiesce()  # the store stops changing: no more events
    sim.advance(RETENTION - 60)
    assert call(orders_api(sim, "shop", "feed/config")).status == 200
    sim.advance(120)
    assert call(orders_api(sim, "shop", "feed/config")).status == 404
    assert call(orders_api(sim, "shop", "feed?maxlot=1")).status == 404


def test_each_event_continues_where_the_order_s_previous_event_left_off(sim: RunningSimulator) -> None:
    configure(sim, {})  # every status
    sim.advance(12 * 3600)
    sim.quiesce()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for item in drain(sim):
        by_order.setdefault(item["orderId"], []).append(item)
    truth = {o["orderId"]: o for o in sim.truth("shop")}
    chained = 0
    for order_id, events in by_order.items():
        # Some orders write whole seconds only: two steps in one second tie, so match by value, not position.
        events.sort(key=lambda i: parse_vtex_datetime(i["currentChange"]))
        entered = {(e["state"], e["currentChange"]) for e in events}
        for after in events[1:]:
            assert (after["lastState"], after["lastChange"]) in entered, order_id
            chained += 1
        for event in events:
            if event["state"] == "order-created":
                assert event["lastState"] == "" and event["lastChange"] == event["currentChange"]
        assert truth[order_id]["status"] in {
            e["state"] for e in events if e["currentChange"] == events[-1]["currentChange"]
        }
    assert chained > 500
