"""The two filters ordersync's setup writes, against the simulator's Feed v3 and Hook: an item edit
that leaves the status alone (an order in handling loses an item, its total changes) is reported
under FromOrders with single fire disabled ("all", the default) and never under FromWorkflow
("status"); every status change is reported under both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ordersync.simulator import AccountSpec
from ordersync.simulator.server import RunningSimulator, start_in_thread
from ordersync.sources.vtex.setup import CaptureFilter, event_filter, feed_config
from support.receiver import Receiver
from support.sim import call, make_config, orders_api, send

pytestmark = pytest.mark.integration

SEED = 7
WINDOW_SECONDS = 6 * 3600
#: windows a test may move the store through to see what it needs (edits are a few a day at 400 orders)
MAX_WINDOWS = 12
PING = b'{"hookConfig":"ping"}'


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = make_config(
        accounts=[AccountSpec("shop", 400)], days=1.5, seed=SEED, event_duplicate_rate=0.0, hook_retry_base_seconds=0.05
    )
    with start_in_thread(config) as running:
        yield running


def truth(sim: RunningSimulator) -> dict[str, tuple[str, int]]:
    return {o["orderId"]: (o["status"], int(o["value"])) for o in sim.truth("shop")}


def advance(
    sim: RunningSimulator, at_least: int = 2, discard: Callable[[], object] = lambda: None
) -> tuple[dict[str, str], set[str]]:
    """Move the store through a window: (orders edited without a status change, with the status they
    stayed in; orders whose status changed). Edits are a few a day: while a window holds fewer than
    `at_least`, what it reported is discarded and the store moves through the next one."""
    for window in range(MAX_WINDOWS):
        if window:
            discard()
        before = truth(sim)
        sim.advance(WINDOW_SECONDS)
        after = truth(sim)
        edited = {
            oid: status
            for oid, (status, value) in after.items()
            if oid in before and before[oid][0] == status and before[oid][1] != value
        }
        moved = {oid for oid, (status, _) in after.items() if oid not in before or before[oid][0] != status}
        if len(edited) >= at_least and moved:
            return edited, moved
    raise AssertionError(f"fewer than {at_least} edits without a status change in {MAX_WINDOWS} windows")


def drain(sim: RunningSimulator) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        reply = call(orders_api(sim, "shop", "feed?maxlot=10"))
        assert reply.status == 200, reply.body
        batch: list[dict[str, Any]] = reply.json()
        if not batch:
            return seen
        seen += batch
        done = send(orders_api(sim, "shop", "feed"), "POST", {"handles": [i["handle"] for i in batch]})
        assert done.status == 200


def check(what: CaptureFilter, events: list[dict[str, Any]], edited: dict[str, str], moved: set[str]) -> None:
    """Events as {"orderId", "state", "lastState"}: what each filter must and must not report."""
    reported = {e["orderId"] for e in events}
    assert moved <= reported  # every status change, under both filters
    edits = [e for e in events if e["orderId"] in edited]
    if what is CaptureFilter.STATUS:
        assert not edits  # the edited orders' totals would wait for the next pull
        assert all(e["state"] != e["lastState"] for e in events)
        return
    # the edit's own event: the order stays in its status
    assert {e["orderId"] for e in edits if e["state"] == e["lastState"]} == set(edited)
    assert {e["state"] for e in edits} == set(edited.values())
    # single fire disabled: an order changed several times is reported each time
    assert max(Counter(e["orderId"] for e in events).values()) >= 2


@pytest.mark.parametrize("what", list(CaptureFilter))
def test_the_feed_reports_an_edit_without_a_status_change_only_under_from_orders(
    sim: RunningSimulator, what: CaptureFilter
) -> None:
    reply = send(orders_api(sim, "shop", "feed/config"), "POST", feed_config(what))
    assert reply.status == 200 and reply.json()["filter"] == event_filter(what), reply.body
    edited, moved = advance(sim, discard=lambda: drain(sim))
    events = drain(sim)
    check(what, events, edited, moved)


@pytest.mark.parametrize("what", list(CaptureFilter))
def test_the_hook_reports_an_edit_without_a_status_change_only_under_from_orders(
    sim: RunningSimulator, what: CaptureFilter
) -> None:
    with Receiver() as receiver:
        body = {"filter": event_filter(what), "hook": {"url": f"{receiver.url}/vtex"}}
        reply = send(orders_api(sim, "shop", "hook/config"), "POST", body)
        assert reply.status == 200 and reply.json()["filter"] == event_filter(what), reply.body
        seen = {"succeeded": 0, "notifications": 0, "recorded": 0}

        def discard() -> None:  # what the windows before the checked one delivered
            seen.update(sim.wait_for_hooks(timeout=60), recorded=len(receiver.recorded()))

        edited, moved = advance(sim, discard=discard)
        hooks = sim.wait_for_hooks(timeout=60)
        got = [r.json() for r in receiver.recorded()[seen["recorded"] :] if r.body != PING]
    delivered = hooks["succeeded"] - seen["succeeded"]
    assert delivered == hooks["notifications"] - seen["notifications"] == len(got) > 0
    events = [{"orderId": n["OrderId"], "state": n["State"], "lastState": n["LastState"]} for n in got]
    check(what, events, edited, moved)


def test_with_single_fire_an_order_already_reported_never_reports_its_edit(sim: RunningSimulator) -> None:
    """Why setup disables single fire: with it, an order is reported the first time it matches only."""
    single = {**event_filter(), "disableSingleFire": False}
    reply = send(orders_api(sim, "shop", "feed/config"), "POST", {"filter": single})
    assert reply.status == 200, reply.body
    sim.advance(WINDOW_SECONDS)
    first = {e["orderId"] for e in drain(sim)}
    later: Counter[str] = Counter()
    missed: set[str] = set()
    for _ in range(MAX_WINDOWS):  # until an order reported in the first window has been edited
        edited, _ = advance(sim, at_least=0)
        later.update(e["orderId"] for e in drain(sim))
        missed |= first & set(edited)
        if missed:
            break
    assert later and max(later.values()) == 1 and not first & set(later)  # once per order, ever
    assert missed and not missed & set(later)  # reported before, so their edits never are
