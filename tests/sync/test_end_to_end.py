"""Against the simulator as a real HTTP server: index lag, an account over 3,000 orders a day, 429s
and injected faults. After quiescing, advancing past the lag and syncing, fct_orders equals the
simulator's truth exactly; a second sync changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from support.sim import fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.dbt, pytest.mark.slow]


def test_sync_converges_to_the_source_truth(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(
        port=0,
        seed=7,
        days=1.2,  # one window over 3,000 orders: enough to split it past the 30-page cap
        speed=0.0,
        start=datetime(2025, 3, 10, 15, tzinfo=UTC),
        index_lag_seconds=240,
        fault_rate=0.03,
        rate_limit_per_minute=90_000,
        accounts=[
            AccountSpec(name="big", orders_per_day=3_300),
            AccountSpec(name="small", orders_per_day=40),
        ],
    )
    accounts = ["big", "small"]
    with start_in_subprocess(config) as sim:
        clock = ManualClock(sim.clock())
        # small batches: lookups, fetches and landings overlap many times within each window
        settings = settings_for(warehouse_url, tmp_path, batch_size=150, lookup_batch=700)
        with Ordersync(settings, clock=clock) as app:
            register(app, sim, accounts, config.app_key, config.app_token)
            first = app.sync(build=False)
            assert first.ok, [o.error for o in first.outcomes]
            # the big account needs windows split past the 30-page cap
            assert first.outcomes[0].counters.list_calls > 30

            # Time passes: new orders, payments, invoices, cancellations of orders already landed.
            sim.advance(9 * 3600)
            clock.set(sim.clock())
            second = app.sync(build=True)
            assert second.ok, [o.error for o in second.outcomes]
            assert sum(o.counters.late_versions for o in second.outcomes) > 0

            sim.quiesce()
            sim.advance(20 * 60)  # past the index lag and ordersync's margin
            clock.set(sim.clock())
            third = app.sync()
            assert third.ok, [o.error for o in third.outcomes]
            retries = sum(o.counters.retries for o in first.outcomes + second.outcomes + third.outcomes)
            assert retries > 0  # faults and 429s were really met

            for account in accounts:
                truth = truth_rows(sim, account)
                assert len(truth) > 0
                assert fct_rows(app, account) == truth

            landed_before = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")
            fct_before = {a: fct_rows(app, a) for a in accounts}
            again = app.sync()
            assert again.ok
            assert sum(o.counters.versions_landed for o in again.outcomes) == 0
            assert sum(o.counters.orders_fetched for o in again.outcomes) == 0
            assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing") == landed_before
            assert {a: fct_rows(app, a) for a in accounts} == fct_before
            assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine") == 0
