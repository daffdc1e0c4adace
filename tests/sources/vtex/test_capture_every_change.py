"""Change capture sees every change, not only status changes: after a full sync, an order whose items
are edited while it stays in `handling` (its total changes, its status does not) reaches fct_orders
with the store's new total through the feed alone, and through the hook alone, with no pull in
between. With the FromWorkflow filter setup used to write, neither would report the edit (the
simulator's side of it: tests/simulator/test_capture_filters.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ordersync.clock import ManualClock
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec
from ordersync.simulator.lifecycle import MAX_STEPS, NEVER
from ordersync.simulator.server import RunningSimulator, start_in_thread
from ordersync.simulator.timefmt import DAY_US, to_us
from ordersync.sources.vtex.setup import event_filter
from support.processes import wait_for
from support.sim import fct_rows, follow, make_config, register, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.dbt]
ACCOUNT = "shop"
SEED = 18
#: a pull lists orders created up to 10 minutes before now, the store shows them 4 minutes after
PULL_MARGIN_US = 15 * 60 * 1_000_000

Rows = set[tuple[str, str | None, int]]


@contextmanager
def synced_store(
    warehouse_url: str, tmp_path: Path
) -> Iterator[tuple[RunningSimulator, Ordersync, ManualClock, float]]:
    """A store fully synced by a pull (landed, not built: the test's one build comes at its end), and
    the window after the pull in which two of its orders are edited without a status change."""
    config = make_config(accounts=[AccountSpec(ACCOUNT, 150)], days=1.5, seed=SEED, event_duplicate_rate=0.0)
    with start_in_thread(config) as sim:
        before_pull, window = edit_moments(sim)
        sim.advance(before_pull)
        clock = ManualClock(sim.clock())
        with Ordersync(settings_for(warehouse_url, tmp_path), clock=clock) as app:
            register(app, sim, [ACCOUNT], config.app_key, config.app_token)
            report = app.sync(build=False)
            assert report.ok, [o.error for o in report.outcomes]
            yield sim, app, clock, window


def landed(app: Ordersync, source: str | None = None) -> dict[str, tuple[str | None, int]]:
    """Per order, the status and total (cents) of its newest landed version (of one source)."""
    sql = "SELECT order_id, event_time, status, total_value FROM cdp.orders_landing"
    rows = app.wh.query(sql + " WHERE source = ?", (source,)) if source else app.wh.query(sql)
    newest: dict[str, tuple[Any, str | None, int]] = {}
    for order_id, event_time, status, value in rows:
        if order_id not in newest or event_time > newest[order_id][0]:
            newest[str(order_id)] = (event_time, status, int(Decimal(value) * 100))
    return {oid: (status, cents) for oid, (_, status, cents) in newest.items()}


def edit_moments(sim: RunningSimulator) -> tuple[float, float]:
    """(seconds from the store's now to a pull, then from the pull to the window's end) such that two
    orders are in a status at the pull, have their items edited after it and are still in that status
    at the end. Read from the simulator's own columns: edits are a few a day, and a fixed window holds
    two such by the seed's chance only."""
    assert sim.app is not None
    cat = sim.app.stores[ACCOUNT].catalog
    now = to_us(sim.clock())
    cat.ensure(now + 2 * DAY_US)  # the next two days' orders (generated as the clock would)
    cols = cat.cols
    spans: list[tuple[int, int, int]] = []  # (listed from, edited at, status changed at), us
    for row in np.nonzero(cols.edit_step >= 0)[0].tolist():
        step, created = int(cols.edit_step[row]), int(cols.creation[row])
        since = created + int(cols.offsets[row, step - 1]) * 1000  # in the status the edit keeps
        listed = max(since, created + PULL_MARGIN_US)
        later = int(cols.offsets[row, step + 1]) if step + 1 < MAX_STEPS else NEVER
        spans.append((listed, created + int(cols.offsets[row, step]) * 1000, created + later * 1000))
    best: tuple[int, int] | None = None
    for (listed_a, edit_a, moved_a), (listed_b, edit_b, moved_b) in itertools.combinations(spans, 2):
        pull = max(listed_a, listed_b, now)
        end = max(edit_a, edit_b) + 1_000_000
        if pull < min(edit_a, edit_b) and end < min(moved_a, moved_b) and (best is None or end < best[1]):
            best = (pull, end)
    assert best is not None, "no two orders are edited in one status within the next two days"
    return (best[0] - now) / 1e6, (best[1] - best[0]) / 1e6


def edited_in_window(sim: RunningSimulator, app: Ordersync, window: float) -> tuple[dict[str, tuple[str, int]], Rows]:
    """Move the store through the window. Returns the orders the pull landed whose items were edited
    in it without a status change ({order id: (status, new cents)}), and the store's rows after it."""
    pulled = landed(app)
    before = {oid: (status, cents) for oid, status, cents in truth_rows(sim, ACCOUNT)}
    assert {oid: before[oid] for oid in pulled} == pulled  # the pull landed the store as it stood
    sim.advance(window)
    sim.quiesce()
    after = truth_rows(sim, ACCOUNT)
    edited = {
        oid: (str(status), cents)
        for oid, status, cents in after
        if oid in pulled and pulled[oid][0] == status and pulled[oid][1] != cents
    }
    assert len(edited) >= 2, edited
    return edited, after


def assert_converged(app: Ordersync, edited: dict[str, tuple[str, int]], store: Rows) -> None:
    """Every edited order has the store's new total in fct_orders, and every order built is as the
    store has it after the window."""
    rows = fct_rows(app, ACCOUNT)
    built = {oid: (status, cents) for oid, status, cents in rows}
    assert {oid: built.get(oid) for oid in edited} == edited
    assert rows <= store


def test_an_edit_without_a_status_change_reaches_fct_orders_through_the_feed_alone(
    warehouse_url: str, tmp_path: Path
) -> None:
    with synced_store(warehouse_url, tmp_path) as (sim, app, clock, window):
        done = app.feed_setup(ACCOUNT)
        assert done.config["filter"] == event_filter()
        pulls = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE source <> 'feed'")
        edited, store = edited_in_window(sim, app, window)
        follow(clock, sim)
        while True:
            (round_,) = app.feed_poll(ACCOUNT)
            assert round_.ok and round_.quarantined == 0, round_.error
            if not round_.backlog:
                break
        by_feed = landed(app, "feed")
        assert {oid: by_feed.get(oid) for oid in edited} == edited
        assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE source <> 'feed'") == pulls  # no pull
        app.build()
        assert_converged(app, edited, store)


def test_an_edit_without_a_status_change_reaches_fct_orders_through_the_hook_alone(
    warehouse_url: str, tmp_path: Path
) -> None:
    with synced_store(warehouse_url, tmp_path) as (sim, app, clock, window):
        pulls = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE source <> 'hook'")
        serve_app = Ordersync(settings_for(warehouse_url, tmp_path))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        try:
            with serving_in_thread(serve_app, options) as (url, _):
                done = app.hook_setup(ACCOUNT, url)
                assert done.config["filter"] == event_filter()
                edited, store = edited_in_window(sim, app, window)
                follow(clock, sim)
                hooks = sim.wait_for_hooks(timeout=60)
                assert hooks["succeeded"] == hooks["notifications"] > 0 and hooks["failed"] == 0

                def hook_landed_the_edits() -> bool:
                    by_hook = landed(app, "hook")
                    return all(by_hook.get(oid) == now for oid, now in edited.items())

                wait_for(hook_landed_the_edits, "the hook's notifications of the edits to land")
        finally:
            serve_app.close()
        assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE source <> 'hook'") == pulls  # no pull
        app.build()
        assert_converged(app, edited, store)
