"""`hook setup` against the simulator with `ordersync serve` running: the store's changes are
delivered to serve and land; its own hook is rewritten (its secret kept), someone else's not
without force; a failed ping says to start serve and leaves the old hook and secret working."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ordersync.config import ServeSettings
from ordersync.errors import ConfigError
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.vtex.hook import SECRET_HEADER
from ordersync.sources.vtex.setup import event_filter
from support.processes import wait_for
from support.sim import configure_events, register, settings_for

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 20, tzinfo=UTC)
ACCOUNT = "store1"


def sim_config(seed: int) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        seed=seed,
        accounts=[AccountSpec(ACCOUNT, 40)],
        days=2,
        start=START,
        speed=0.0,
        hook_retry_base_seconds=0.05,
    )


def serve_options() -> ServeOptions:
    return ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)


def latest_hook_versions(app: Ordersync) -> dict[str, tuple[str, int]]:
    """Per order landed by the hook, the status and value (cents) of its newest version."""
    rows = app.wh.query(
        "SELECT order_id, event_time, status, total_value FROM cdp.orders_landing WHERE source = 'hook'"
    )
    newest: dict[str, tuple[Any, str, int]] = {}
    for order_id, event_time, status, value in rows:
        if order_id not in newest or event_time > newest[order_id][0]:
            newest[order_id] = (event_time, status, int(Decimal(value) * 100))
    return {oid: (status, cents) for oid, (_, status, cents) in newest.items()}


def test_changes_are_delivered_to_serve_and_land(warehouse_url: str, tmp_path: Path) -> None:
    config = sim_config(seed=21)
    with start_in_thread(config) as sim, Ordersync(settings_for(warehouse_url, tmp_path)) as setup:
        register(setup, sim, [ACCOUNT], config.app_key, config.app_token)
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        with serving_in_thread(app, serve_options()) as (url, _):
            done = setup.hook_setup(ACCOUNT, url)
            assert done.url == f"{url}/v1/hooks/vtex/{ACCOUNT}"
            tenant = setup.tenants.get(ACCOUNT)
            assert tenant.change_capture == "hook" and setup.tenants.hook_secret_hash(tenant.tenant_id)
            (configured,) = sim.events()["hooks"]["configs"]
            assert configured["hook"]["url"] == done.url and SECRET_HEADER in configured["hook"]["headers"]
            assert done.public()["config"]["hook"]["headers"] == {SECRET_HEADER: "***"}

            before = {o["orderId"]: o["status"] for o in sim.truth(ACCOUNT)}
            sim.advance(3 * 3600)
            sim.quiesce()
            hooks = sim.wait_for_hooks(timeout=30)
            assert hooks["succeeded"] == hooks["notifications"] > 0 and hooks["failed"] == 0
            truth = {o["orderId"]: (o["status"], int(o["value"])) for o in sim.truth(ACCOUNT)}
            changed = {oid for oid, (status, _) in truth.items() if before.get(oid) != status}
            assert changed
            with Ordersync(settings_for(warehouse_url, tmp_path)) as probe:
                wait_for(lambda: changed <= set(latest_hook_versions(probe)), "every change to land")
                landed = latest_hook_versions(probe)
            assert landed == {oid: truth[oid] for oid in landed}


def test_setup_refuses_a_hook_already_there_and_a_failed_ping_keeps_the_old_one(tmp_path: Path) -> None:
    config = sim_config(seed=22)
    url_wh = str(tmp_path / "wh.duckdb")
    with start_in_thread(config) as sim, Ordersync(settings_for(url_wh, tmp_path)) as setup:
        register(setup, sim, [ACCOUNT], config.app_key, config.app_token)
        tid = setup.tenants.get(ACCOUNT).tenant_id
        with pytest.raises(ConfigError, match=r"did not accept the hook.*start ordersync serve first"):
            setup.hook_setup(ACCOUNT, "http://127.0.0.1:9")  # nothing listens there
        assert setup.tenants.hook_secret_hash(tid) is None
        assert setup.tenants.get(ACCOUNT).change_capture == "none"

        app = Ordersync(settings_for(url_wh, tmp_path))
        with serving_in_thread(app, serve_options()) as (url, _):
            first = setup.hook_setup(ACCOUNT, url, what="status")
            secret = setup.tenants.hook_secret_hash(tid)
            # its own hook is rewritten without --force, to the filter asked for, and keeps its secret
            switched = setup.hook_setup(ACCOUNT, url)
            assert switched.replaced is not None and switched.replaced["filter"]["type"] == "FromWorkflow"
            (configured,) = sim.events()["hooks"]["configs"]
            assert configured["filter"] == event_filter() and setup.tenants.hook_secret_hash(tid) == secret
            with pytest.raises(ConfigError, match=r"start ordersync serve first, reachable from the store"):
                setup.hook_setup(ACCOUNT, "http://127.0.0.1:9/v1/hooks/vtex/store1", force=True)
            assert setup.tenants.hook_secret_hash(tid) == secret  # the old secret still works
            (configured,) = sim.events()["hooks"]["configs"]
            assert configured["hook"]["url"] == first.url

            sim.advance(3600)
            hooks = sim.wait_for_hooks(timeout=30)
            assert hooks["succeeded"] > 0 and hooks["failed"] == 0  # delivered with the old secret

            erp = {"filter": {"type": "FromWorkflow", "status": ["invoiced"]}, "hook": {"url": first.url}}
            configure_events(sim, ACCOUNT, "hook", config.app_key, config.app_token, erp)  # someone else's
            with pytest.raises(ConfigError, match=r"already has a hook.*sending to .*/v1/hooks/vtex/store1.*--force"):
                setup.hook_setup(ACCOUNT, url)
            (configured,) = sim.events()["hooks"]["configs"]
            assert configured["filter"]["status"] == ["invoiced"]  # left alone

            again = setup.hook_setup(ACCOUNT, url, force=True)
            assert again.replaced is not None and setup.tenants.hook_secret_hash(tid) != secret
