"""The VTEX Hook receiver: the ping without a secret, 401 for a wrong one, notifications answered
once spooled and then fetched from the store and landed, a receiver killed after its 200 losing
nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.vtex.hook import SECRET_HEADER, Spool
from support.processes import wait_for
from support.sim import register, settings_for

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 20, tzinfo=UTC)


def note(order_id: str, state: str = "invoiced") -> dict[str, Any]:
    return {
        "Domain": "Marketplace",
        "OrderId": order_id,
        "State": state,
        "LastChange": "2026-11-20T10:00:00Z",
        "Origin": {"Account": "store1", "Key": "vtexappkey-simulator"},
    }


def landed_ids(app: Ordersync) -> set[str]:
    return {r[0] for r in app.wh.query("SELECT DISTINCT order_id FROM cdp.orders_landing WHERE source = 'hook'")}


def test_notifications_are_answered_then_fetched_and_landed(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(port=0, seed=5, accounts=[AccountSpec("store1", 20)], days=1, start=START, speed=0.0)
    with start_in_thread(config) as sim:
        orders = [o["orderId"] for o in sim.truth("store1")][:5]
        setup = Ordersync(settings_for(warehouse_url, tmp_path))
        register(setup, sim, ["store1"], config.app_key, config.app_token)
        secret = setup.new_hook_secret("store1")
        setup.close()
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        with serving_in_thread(app, options) as (url, _):
            hook = f"{url}/v1/hooks/vtex/store1"
            assert httpx.post(hook, json={"hookConfig": "ping"}).status_code == 200  # no secret needed
            assert httpx.post(hook, json=note(orders[0])).status_code == 401
            assert httpx.post(hook, json=note(orders[0]), headers={SECRET_HEADER: "wrong"}).status_code == 401
            nobody = httpx.post(f"{url}/v1/hooks/vtex/nobody", json=note(orders[0]), headers={SECRET_HEADER: secret})
            assert nobody.status_code == 401
            for oid in [*orders, orders[0]]:  # a duplicate notification too
                r = httpx.post(hook, json=note(oid), headers={SECRET_HEADER: secret}, timeout=5)
                assert r.status_code == 200
            r = httpx.post(hook, content=b"{not json", headers={SECRET_HEADER: secret})
            assert r.status_code == 200  # kept and quarantined, never refused
            with Ordersync(settings_for(warehouse_url, tmp_path)) as probe:

                def unreadable() -> bool:
                    return any("no readable OrderId" in q["reason"] for q in probe.quarantine_list("store1"))

                wait_for(
                    lambda: landed_ids(probe) == set(orders) and unreadable(),
                    "every notification to land and the unreadable one to be quarantined",
                )


def test_spooled_notifications_survive_a_receiver_that_dies_after_answering(warehouse_url: str, tmp_path: Path) -> None:
    """What a killed process had spooled (answered 200, not yet in the inbox) is landed by the next."""
    config = SimulatorConfig(port=0, seed=6, accounts=[AccountSpec("store1", 10)], days=1, start=START, speed=0.0)
    with start_in_thread(config) as sim:
        orders = [o["orderId"] for o in sim.truth("store1")][:3]
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        register(app, sim, ["store1"], config.app_key, config.app_token)
        tid = app.tenants.get("store1").tenant_id
        app.close()
        spool = Spool(tmp_path / "hook-spool.ndjson")
        from ordersync.sources.vtex.hook import notification

        for oid in orders:  # exactly what the receiver writes before its 200
            spool.append(notification(tid, httpx.Request("POST", "/", json=note(oid)).read()))
        with Ordersync(settings_for(warehouse_url, tmp_path)) as successor:
            done = successor.hook_round(spool)
            assert (done.notifications, done.landed) == (3, 3)
            assert landed_ids(successor) == set(orders)
            assert successor.hook_round(spool).notifications == 0
