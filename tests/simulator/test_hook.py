"""Hook over real HTTP: the ping, notifications with the configured headers, retries and giving up."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from ordersync.simulator import AccountSpec
from ordersync.simulator.server import RunningSimulator, start_in_thread
from support.processes import wait_for
from support.receiver import Receiver, Recorded
from support.sim import KEY, call, make_config, orders_api, send

pytestmark = pytest.mark.integration

SHOP = [AccountSpec("shop", 600)]
PING = b'{"hookConfig":"ping"}'
NOTIFICATION = {"Domain", "OrderId", "State", "LastState", "LastChange", "CurrentChange", "Origin"}


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = make_config(accounts=SHOP, days=1, event_duplicate_rate=0.0, hook_retry_base_seconds=0.05)
    with start_in_thread(config) as running:
        yield running


def hook_body(url: str, headers: dict[str, str] | None = None, **filt: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": {"url": url}}
    if headers is not None:
        body["hook"]["headers"] = headers
    if filt:
        body["filter"] = filt
    return body


def configure(sim: RunningSimulator, body: Any) -> Any:
    reply = send(orders_api(sim, "shop", "hook/config"), "POST", body)
    assert reply.status == 200, reply.body
    return reply.json()


def notifications(receiver: Receiver) -> list[Recorded]:
    return [r for r in receiver.recorded() if r.body != PING]


def test_the_ping_must_answer_200_and_the_url_must_be_https() -> None:
    url_of: dict[str, str] = {}
    with Receiver(lambda r: 500 if r.path == "/down" else 200) as receiver:
        with start_in_thread(make_config(accounts=SHOP, days=1)) as sim:
            config_url = orders_api(sim, "shop", "hook/config")
            reply = send(config_url, "POST", hook_body(f"{receiver.url}/down"))
            assert reply.status == 400 and "500" in reply.json()["error"]["message"]
            assert send(config_url, "POST", hook_body("http://127.0.0.1:9/closed")).status == 400
            for url in ("http://example.com/hook", "ftp://localhost/hook", "not a url"):
                reply = send(config_url, "POST", hook_body(url))
                assert reply.status == 400 and "https" in reply.json()["error"]["message"]
            assert send(config_url, "POST", {"filter": {"type": "FromWorkflow"}}).status == 400  # no hook
            mixed = hook_body(f"{receiver.url}/up", type="FromWorkflow", status=["invoiced"], expression="value > 1")
            assert send(config_url, "POST", mixed).status == 409
            assert call(config_url).status == 404  # nothing was saved
            saved = configure(sim, hook_body(f"{receiver.url}/up", {"X-Secret": "s3"}))
            url_of["up"] = saved["hook"]["url"]
            assert saved["filter"]["type"] == "FromWorkflow" and "canceled" in saved["filter"]["status"]
            assert call(config_url).json() == saved
            assert sim.events()["hooks"]["pings"] == 3 and sim.events()["hooks"]["pings_failed"] == 2
            assert send(config_url, "DELETE").status == 200 and call(config_url).status == 404
        pings = [r for r in receiver.recorded() if r.body == PING]
        assert [r.path for r in pings] == ["/down", "/up"]
        assert all(r.method == "POST" and r.json() == {"hookConfig": "ping"} for r in pings)
        assert pings[1].headers["x-secret"] == "s3"
    assert url_of["up"].endswith("/up")


def test_notifications_carry_the_headers_and_match_the_feed(sim: RunningSimulator) -> None:
    statuses = ["payment-approved", "invoiced", "canceled"]
    with Receiver() as receiver:
        configure(sim, hook_body(f"{receiver.url}/vtex", {"X-Token": "abc"}, type="FromWorkflow", status=statuses))
        # A feed with the same filter, set up at the same moment, sees the same changes.
        feed = send(orders_api(sim, "shop", "feed/config"), "POST", {"filter": {"status": statuses}})
        assert feed.status == 200
        sim.advance(4 * 3600)
        sim.quiesce()
        hooks = sim.wait_for_hooks()
        got = notifications(receiver)
        events = sim.events()
    assert hooks["notifications"] == hooks["succeeded"] == hooks["attempted"] == len(got) > 20
    assert hooks["failed"] == hooks["dropped"] == 0
    assert events["feeds"][0]["enqueued"] == len(got)
    for rec in got:
        assert rec.method == "POST" and rec.path == "/vtex"
        assert rec.headers["x-token"] == "abc" and rec.headers["content-type"].startswith("application/json")
        body = rec.json()
        assert set(body) == NOTIFICATION
        assert body["Origin"] == {"Account": "shop", "Key": KEY}
        assert body["State"] in statuses and body["Domain"] in ("Marketplace", "Fulfillment")
    truth = {o["orderId"]: o["status"] for o in sim.truth("shop")}
    last: dict[str, str] = {}
    for rec in sorted(got, key=lambda r: r.json()["CurrentChange"]):
        last[rec.json()["OrderId"]] = rec.json()["State"]
    assert all(truth[oid] == state for oid, state in last.items() if truth[oid] in statuses)


def test_failed_deliveries_are_retried_with_growing_delays(sim: RunningSimulator) -> None:
    failures: Counter[bytes] = Counter()
    lock = threading.Lock()

    def respond(rec: Recorded) -> int:
        if rec.body == PING:
            return 200
        with lock:
            failures[rec.body] += 1
            return 503 if failures[rec.body] <= 3 else 200

    sim.set_event_settings(hook_retry_base_seconds=0.1, hook_retry_factor=2.5)
    with Receiver(respond) as receiver:
        configure(sim, hook_body(receiver.url, type="FromWorkflow", status=["invoiced"]))
        sim.advance(1800)
        sim.quiesce()
        started = time.monotonic()
        hooks = sim.wait_for_hooks(timeout=20)
        elapsed = time.monotonic() - started
        got = notifications(receiver)
    n = hooks["notifications"]
    assert n >= 1 and hooks["succeeded"] == n and hooks["dropped"] == 0
    assert hooks["attempted"] == 4 * n and hooks["failed"] == 3 * n
    attempts: dict[bytes, list[float]] = defaultdict(list)
    for rec in got:
        attempts[rec.body].append(rec.at)
    for times in attempts.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(gaps) == 3
        for i, gap in enumerate(gaps):
            assert gap >= 0.1 * 2.5**i * 0.95, gaps  # 0.1 s, 0.25 s, 0.625 s
        assert gaps[0] < gaps[1] < gaps[2]
    assert elapsed < 10


def test_deliveries_are_dropped_after_the_attempt_limit(sim: RunningSimulator) -> None:
    sim.set_event_settings(hook_retry_base_seconds=0.02, hook_retry_factor=1.0, hook_max_attempts=3)
    with Receiver(lambda r: 200 if r.body == PING else 500) as receiver:
        configure(sim, hook_body(receiver.url, type="FromWorkflow", status=["invoiced", "canceled"]))
        sim.advance(3600)
        sim.quiesce()
        hooks = sim.wait_for_hooks()
        got = notifications(receiver)
    n = hooks["notifications"]
    assert n >= 1 and hooks["dropped"] == n and hooks["succeeded"] == 0
    assert hooks["attempted"] == hooks["failed"] == 3 * n == len(got)
    assert set(Counter(r.body for r in got).values()) == {3}


def test_deliveries_older_than_the_age_limit_are_dropped_without_another_attempt(sim: RunningSimulator) -> None:
    sim.set_event_settings(hook_retry_base_seconds=0.3, hook_max_age_seconds=600)
    with Receiver(lambda r: 200 if r.body == PING else 500) as receiver:
        configure(sim, hook_body(receiver.url, type="FromWorkflow", status=["invoiced"]))
        sim.advance(300)
        sim.quiesce()
        wait_for(
            lambda: sim.events()["hooks"]["failed"] >= sim.events()["hooks"]["notifications"],
            "every notification's first attempt to fail",
        )
        sim.advance(900)  # every change is now more than 600 s old
        hooks = sim.wait_for_hooks()
        got = notifications(receiver)
    n = hooks["notifications"]
    assert n >= 1 and hooks["dropped"] == n and hooks["attempted"] == n == len(got)


def test_duplicate_notifications_at_the_configured_rate() -> None:
    config = make_config(accounts=SHOP, days=1, event_duplicate_rate=0.25)
    with Receiver() as receiver, start_in_thread(config) as sim:
        configure(sim, hook_body(receiver.url))
        sim.advance(3 * 3600)
        sim.quiesce()
        hooks = sim.wait_for_hooks()
        got = notifications(receiver)
    counts = Counter(r.body for r in got)
    assert hooks["succeeded"] == len(got) == len(counts) + hooks["duplicates"]
    assert 0.15 < hooks["duplicates"] / len(counts) < 0.35


def test_deliveries_flow_while_simulated_time_runs_without_control_calls(sim: RunningSimulator) -> None:
    with Receiver() as receiver:
        configure(sim, hook_body(receiver.url))
        sim.set_speed(1800.0)  # half an hour of store time per real second
        wait_for(lambda: len(notifications(receiver)) >= 5, "five notifications while the clock ran")
        sim.set_speed(0.0)
        hooks = sim.wait_for_hooks()
    assert hooks["succeeded"] == hooks["notifications"] >= 5


def test_a_hook_without_notifications_for_three_days_is_removed(sim: RunningSimulator) -> None:
    with Receiver() as receiver:
        configure(sim, hook_body(receiver.url))
        sim.quiesce()
        sim.advance(3 * 86_400 - 60)
        assert call(orders_api(sim, "shop", "hook/config")).status == 200
        sim.advance(120)
        assert call(orders_api(sim, "shop", "hook/config")).status == 404
        assert sim.events()["hooks"]["configs"] == []
