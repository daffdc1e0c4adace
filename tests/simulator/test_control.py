"""Control endpoints, determinism, quiescing, rate limits, faults and running in a child process."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import orjson
import pytest

from ordersync.dates import parse_vtex_datetime
from ordersync.simulator import AccountSpec
from ordersync.simulator.lifecycle import MAX_CHANGE_HOURS
from ordersync.simulator.server import start_in_subprocess, start_in_thread
from support.processes import wait_for
from support.sim import START, call, creation_range, list_url, make_config

pytestmark = pytest.mark.integration

SMALL = [AccountSpec("shop", 150)]


def test_same_seed_same_truth_other_seed_other_truth() -> None:
    config = make_config(accounts=SMALL, days=2)
    with start_in_thread(config) as a, start_in_thread(config) as b:
        first, second = a.truth("shop"), b.truth("shop")
    assert first == second and len(first) > 200
    with start_in_thread(make_config(accounts=SMALL, days=2, seed=8)) as c:
        assert c.truth("shop") != first


def test_quiesce_then_advance_makes_the_list_equal_the_truth() -> None:
    with start_in_thread(make_config(accounts=SMALL, days=3)) as sim:
        sim.advance(3600)
        quiesced = sim.quiesce()
        assert sim.clock_info()["quiesced_at"] is not None
        sim.advance(300)  # past the 240 s index lag
        assert sim.clock() == quiesced + timedelta(seconds=300)
        truth = {o["orderId"]: o for o in sim.truth("shop")}
        window = creation_range(START - timedelta(days=4), START + timedelta(days=1))
        listed: dict[str, dict[str, object]] = {}
        first = call(list_url(sim, "shop", f_creationDate=window, per_page=100)).json()
        assert first["paging"]["pages"] <= 30
        for page in range(1, first["paging"]["pages"] + 1):
            body = call(list_url(sim, "shop", f_creationDate=window, per_page=100, page=page)).json()
            listed.update({item["orderId"]: item for item in body["list"]})
        assert listed.keys() == truth.keys()
        for order_id, order in truth.items():
            item = listed[order_id]
            assert (item["status"], item["totalValue"], item["lastChange"], item["creationDate"]) == (
                order["status"],
                order["value"],
                order["lastChange"],
                order["creationDate"],
            )
        # Nothing moves any more: no new orders, no lifecycle steps.
        sim.advance(2 * 86400)
        assert sim.truth("shop") == list(truth.values())


def test_lifecycle_changes_happen_after_creation_and_within_the_bound() -> None:
    with start_in_thread(make_config(accounts=[AccountSpec("shop", 800)], days=1)) as sim:
        seen_statuses: set[str] = set()
        latest: dict[str, float] = {}
        for _ in range(4):
            for order in sim.truth("shop"):
                created = parse_vtex_datetime(order["creationDate"])
                changed = parse_vtex_datetime(order["lastChange"])
                assert created <= changed <= created + timedelta(hours=MAX_CHANGE_HOURS)
                seen_statuses.add(order["status"])
                latest[order["orderId"]] = (changed - created).total_seconds()
            sim.advance(20 * 3600)
        assert {"invoiced", "canceled", "payment-pending", "handling"} <= seen_statuses
        assert max(latest.values()) > 24 * 3600  # bank slips and late cancellations take days


def test_clock_speed_and_bad_control_requests() -> None:
    with start_in_thread(make_config(accounts=SMALL, days=0.5)) as sim:
        assert sim.clock_info() == {"now": sim.clock_info()["now"], "speed": 0.0, "quiesced_at": None}
        before = sim.clock()
        outer = time.monotonic()
        sim.set_speed(3600.0)
        inner = time.monotonic()
        wait_for(lambda: sim.clock() - before > timedelta(minutes=10), "the clock to run at speed 3600")
        inner_end = time.monotonic()
        sim.set_speed(0.0)
        outer_end = time.monotonic()
        stopped = sim.clock()
        moved = (stopped - before).total_seconds()
        # an hour a second while it ran: between the calls' inner and outer times, whatever their speed
        assert 3600 * (inner_end - inner) - 1 <= moved <= 3600 * (outer_end - outer) + 1
        assert sim.clock() == stopped, "speed 0 stops it"
        with pytest.raises(Exception, match="400"):
            sim.control("POST", "clock", {"advance_seconds": -5})
        with pytest.raises(Exception, match="400"):
            sim.control("POST", "clock", {"bogus": 1})
        assert sim.info()["accounts"]["shop"]["orders_existing"] > 0


def test_rate_limit_answers_429_with_retry_after() -> None:
    with start_in_thread(make_config(accounts=SMALL, days=1, rate_limit_per_minute=60)) as sim:
        replies = [call(list_url(sim, "shop")) for _ in range(6)]
        limited = [r for r in replies if r.status == 429]
        assert replies[0].status == 200 and limited
        for reply in limited:
            assert int(reply.headers["retry-after"]) >= 1
            assert "error" in reply.json()
        assert call(f"{sim.url}/_simulator/clock", {}).status == 200  # control routes are never limited


def test_faults_appear_at_a_high_fault_rate_but_never_on_control_routes() -> None:
    with start_in_thread(make_config(accounts=SMALL, days=1, fault_rate=0.6)) as sim:
        url = list_url(sim, "shop", per_page=5)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda _: call(url), range(96)))
        elapsed = time.monotonic() - started
        statuses = {r.status for r in replies}
        assert statuses & {500, 502, 503, 504}
        broken = 0
        for reply in replies:
            if reply.status == 200:
                try:
                    orjson.loads(reply.body)
                except orjson.JSONDecodeError:
                    broken += 1
        assert broken > 0
        assert sim.stats()["faults"].get("slow", 0) > 0 and elapsed > 0.2
        for _ in range(30):
            assert call(f"{sim.url}/_simulator/clock", {}).status == 200


def test_runs_in_a_child_process_on_a_free_port() -> None:
    config = make_config(accounts=SMALL, days=1)
    sim = start_in_subprocess(config)
    try:
        assert sim.pid is not None and sim.url.startswith("http://127.0.0.1:")
        assert sim.clock() == START
        body = call(list_url(sim, "shop")).json()
        assert body["paging"]["total"] > 0
        with start_in_thread(config) as twin:
            assert sim.truth("shop") == twin.truth("shop")
    finally:
        sim.stop()
    with pytest.raises(OSError):
        call(f"{sim.url}/_simulator/clock", {}, timeout=2)
