"""Poison records in a pull sync: a get-order body broken on every attempt, or one that answers for
another order, goes to the quarantine with its bytes and the reason; the run succeeds, its
checkpoint advances, everything else lands, and the next run does not pile the same record up."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factories import vtex_order_json
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.land.lander import decode_raw
from ordersync.sync import checkpoints
from support.fake_vtex import APP_KEY, APP_TOKEN, MALFORMED, FakeOrder, FakeVtex, Fault, spread
from support.sim import KEY_ENV, TOKEN_ENV, settings_for

DAY = datetime(2024, 5, 1, 3, tzinfo=UTC)


@contextmanager
def serving(fake: FakeVtex) -> Iterator[FakeVtex]:
    """The fake store on an event loop of its own, so the facade can run its own loop."""
    loop = asyncio.new_event_loop()
    up = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.__aenter__())
        up.set()
        loop.run_forever()
        loop.run_until_complete(fake.__aexit__())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert up.wait(10)
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_poison_bodies_are_quarantined_and_never_block(warehouse_url: str, tmp_path: Path) -> None:
    orders = spread(40, DAY, DAY + timedelta(hours=20), prefix="p")
    broken, impostor = orders[3].order_id, orders[7].order_id
    fake = FakeVtex(orders)
    fake.broken.add(broken)
    other = FakeOrder("someone-else", DAY)
    stolen = vtex_order_json(
        other.order_id, value=100, creationDate="2024-05-01T03:00:00Z", lastChange="2024-05-01T03:00:00Z"
    )
    fake.order_faults[impostor] = deque(Fault(200, stolen) for _ in range(50))
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = APP_KEY, APP_TOKEN
    clock = ManualClock(DAY + timedelta(days=1, hours=3))
    with serving(fake), Ordersync(settings_for(warehouse_url, tmp_path, max_retries=2), clock=clock) as app:
        app.add_tenant("shop", account="store1", base_url=fake.base_url, app_key_env=KEY_ENV, app_token_env=TOKEN_ENV)
        report = app.sync(build=False)
        assert report.ok, [o.error for o in report.outcomes]
        outcome = report.outcomes[0]
        assert outcome.counters.quarantined == 2
        landed = {r[0] for r in app.wh.query("SELECT DISTINCT order_id FROM cdp.orders_landing")}
        assert landed == {o.order_id for o in orders} - {broken, impostor}
        rows = {r["order_id"]: r for r in app.quarantine_list("shop")}
        assert set(rows) == {broken, impostor}
        assert "malformed" in rows[broken]["reason"]
        assert "someone-else" in rows[impostor]["reason"]
        raw = app.wh.query_one("SELECT raw, raw_encoding FROM cdp.quarantine WHERE order_id = ?", (broken,))
        assert raw is not None and decode_raw(raw[0], raw[1]) == MALFORMED.body
        tid = app.tenants.get("shop").tenant_id
        assert checkpoints.load(app.wh, tid)["creation"] > DAY + timedelta(days=1)

        clock.advance(timedelta(hours=7))
        again = app.sync(build=False)
        assert again.ok and again.outcomes[0].counters.quarantined == 0
        assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine") == 2, "the same poison piled up"


def test_a_store_answering_5xx_only_is_retried_not_quarantined(warehouse_url: str, tmp_path: Path) -> None:
    orders = spread(10, DAY, DAY + timedelta(hours=20), prefix="q")
    down = orders[2].order_id
    fake = FakeVtex(orders)
    fake.order_faults[down] = deque(Fault(503) for _ in range(50))
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = APP_KEY, APP_TOKEN
    clock = ManualClock(DAY + timedelta(days=1, hours=3))
    settings = settings_for(warehouse_url, tmp_path, max_retries=1, max_backoff_seconds=0.05)
    with serving(fake), Ordersync(settings, clock=clock) as app:
        app.add_tenant("shop", account="store1", base_url=fake.base_url, app_key_env=KEY_ENV, app_token_env=TOKEN_ENV)
        report = app.sync(build=False)
        assert not report.ok, "an order the store could not serve is not silently skipped"
        assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine") == 0
        tid = app.tenants.get("shop").tenant_id
        held = checkpoints.load(app.wh, tid).get("creation")
        assert held is None or held <= orders[2].creation, "the checkpoint passed an order not landed"
        fake.order_faults[down].clear()
        clock.advance(timedelta(hours=7))
        assert app.sync(build=False).ok
        assert app.wh.scalar("SELECT count(DISTINCT order_id) FROM cdp.orders_landing") == 10
