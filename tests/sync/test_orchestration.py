"""`sync` over several tenants runs the worker's path: in parallel, retried, and no tenant's failure
(expected or not) stops the others; the report names each failure. Status states follow each
tenant's own frequency, and discrepancies close when a later run fixes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from factories import vtex_order_json
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.observe.status import sync_state
from ordersync.outcomes import RunStatus
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from ordersync.sync import engine
from ordersync.sync.reconcile import close_fixed, open_days, warehouse_days
from support.sim import KEY_ENV, TOKEN_ENV, register, settings_for

pytestmark = [pytest.mark.integration]

START = datetime(2025, 4, 2, 15, tzinfo=UTC)


def _order(order_id: str, hour: int, cents: int) -> bytes:
    at = f"2025-04-01T{hour:02d}:00:00Z"
    return vtex_order_json(order_id, lastChange=at, creationDate=at, value=cents)


def test_one_tenant_failing_never_stops_the_others(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SimulatorConfig(
        port=0,
        seed=9,
        days=3,
        speed=0.0,
        start=START,
        rate_limit_per_minute=120_000,
        accounts=[AccountSpec(name=n, orders_per_day=300) for n in ("a", "b", "c")],
    )
    real_run = engine.TenantSync.run

    async def crash_for_c(self: engine.TenantSync) -> Any:
        if self.tenant.tenant_name == "c":
            raise KeyError("a bug in one tenant's run")
        return await real_run(self)

    monkeypatch.setattr(engine.TenantSync, "run", crash_for_c)
    with (
        start_in_subprocess(config) as sim,
        Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(sim.clock())) as app,
    ):
        register(app, sim, ["a", "b", "c"], config.app_key, config.app_token)
        app.add_tenant(
            "gone",
            account="gone",
            base_url=sim.base_url("no-such-account"),
            app_key_env=KEY_ENV,
            app_token_env=TOKEN_ENV,
        )
        report = app.sync(build=False)
        by_name = {o.tenant_name: o for o in report.outcomes}
        assert by_name["a"].status == by_name["b"].status == "succeeded"
        assert by_name["a"].counters.versions_landed > 0 and by_name["b"].counters.versions_landed > 0
        assert by_name["c"].status == "failed" and "KeyError" in (by_name["c"].error or "")
        assert by_name["gone"].status == "failed" and by_name["gone"].error
        assert not report.ok
        assert {o.tenant_name for o in report.failures} == {"c", "gone"}
        # the two good tenants ran side by side, as the worker runs them
        spans = app.wh.query(
            "SELECT wall_started_at, wall_finished_at FROM cdp.sync_runs r JOIN cdp.tenants t "
            "ON t.tenant_id = r.tenant_id WHERE t.tenant_name IN ('a', 'b') AND r.status = 'succeeded'"
        )
        assert len(spans) == 2
        assert max(s for s, _ in spans) < min(f for _, f in spans), "tenants ran one after another"


@pytest.mark.parametrize(
    ("hours_ago", "frequency", "state"),
    [
        (1, 6, "Current"),
        (7, 6, "Behind"),
        (13, 6, "Stale"),
        (10, 24, "Current"),
        (30, 24, "Behind"),
        (49, 24, "Stale"),
    ],
)
def test_state_is_relative_to_the_tenants_frequency(hours_ago: int, frequency: int, state: str) -> None:
    assert sync_state(START - timedelta(hours=hours_ago), START, frequency) == state


def test_status_uses_each_tenants_frequency_and_discrepancies_close(warehouse_url: str, tmp_path: Path) -> None:
    clock = ManualClock(START)
    with Ordersync(settings_for(warehouse_url, tmp_path), clock=clock) as app:
        for name, freq in (("daily", 24), ("often", 6)):
            app.add_tenant(
                name, account=name, base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None,
                frequency_hours=freq,
            )  # fmt: skip
            app.tenants.mark_synced(app.tenants.get(name).tenant_id, START - timedelta(hours=10))
        states = {s["tenant"]: s["state"] for s in app.status()}
        assert states == {"daily": "Current", "often": "Behind"}

        tid = app.tenants.get("daily").tenant_id
        day = date(2025, 4, 1)
        result = app.land_records("daily", [_order("o1", 12, 1000)])
        assert result.landed == 1
        held = warehouse_days(app.wh, tid, day, day)
        # a full sync had found the day short of the source: 2 orders, 30.00
        for orders, total in ((2, Decimal("30.00")),):
            app.wh.execute(
                "INSERT INTO cdp.discrepancies (tenant_id, run_id, order_date, source_orders, source_total, "
                "warehouse_orders, warehouse_total, found_at) VALUES (?, 'r1', ?, ?, ?, ?, ?, ?)",
                (tid, day, orders, total, held[day].orders, held[day].total, START),
            )
        assert open_days(app.wh) == {tid: 1}
        assert close_fixed(app.wh, tid, "r2", START) == 0, "still short: stays open"
        app.land_records("daily", [_order("o2", 13, 2000)])
        assert close_fixed(app.wh, tid, "r3", START) == 1
        assert open_days(app.wh) == {}
        assert {s["tenant"]: s["open_discrepancies"] for s in app.status()}["daily"] == 0
        fixed = app.wh.query_one("SELECT fixed, fixed_run_id, after_orders FROM cdp.discrepancies")
        assert fixed == (True, "r3", 2)


def test_a_run_whose_credentials_cannot_be_read_is_recorded_failed(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(START)) as app:
        app.add_tenant(
            "shop", account="shop", base_url="http://127.0.0.1:9", app_key_env="ORDERSYNC_TEST_UNSET_KEY",
            app_token_env="ORDERSYNC_TEST_UNSET_TOKEN",
        )  # fmt: skip
        result = app.sync(["shop"], build=False)
        (outcome,) = result.outcomes
        assert outcome.status is RunStatus.FAILED and "ORDERSYNC_TEST_UNSET_KEY" in str(outcome.error)
        assert app.wh.query("SELECT status FROM cdp.sync_runs") == [("failed",)]
