"""The sync process killed at random points, then re-run, ends identical to an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.dates import format_vtex_datetime
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from ordersync.sync.windows import go_live_start
from support.processes import run, spawned, wait_for
from support.sim import KEY_ENV, TOKEN_ENV, fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 4
#: each trial is killed once the store has answered this share of the requests an uninterrupted
#: run needs (drawn per trial): together less than one run, so every trial is cut short
KILL_AFTER = (0.05, 0.2)


def landed(app: Ordersync) -> tuple[set[tuple[str, str]], int]:
    rows = app.wh.query("SELECT order_id, payload_hash FROM cdp.orders_landing")
    return {(r[0], r[1]) for r in rows}, len(rows)


# mode -> (days of history, orders a day, go-live days back or None): the historical case fills four
# 7-day batches, so a kill lands between checkpoints as well as inside one
CASES = {"incremental": (2, 600, None), "historical": (30, 60, 28)}


@pytest.mark.parametrize("mode", list(CASES))
def test_killed_sync_resumes_identically(mode: str, warehouse_url: str, tmp_path: Path) -> None:
    """Incremental: the first sync of a tenant. Historical: the gap-fill from go-live, resumable from its
    checkpoints, finishing with the same result (and initial_sync_completed) as an uninterrupted one."""
    rng = random.Random(20250310)
    days, per_day, live_days = CASES[mode]
    config = SimulatorConfig(
        port=0,
        seed=5,
        days=days,
        speed=0.0,
        start=datetime(2025, 3, 10, 15, tzinfo=UTC),
        index_lag_seconds=240,
        fault_rate=0.02,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name="shop", orders_per_day=per_day)],
    )
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        sim.advance(20 * 60)
        now = sim.clock()

        # The reference: one uninterrupted run, always into a DuckDB file.
        ref_url = str(tmp_path / "reference.duckdb")
        live = (now - timedelta(days=live_days)).date() if live_days else None

        def prepare(app: Ordersync) -> None:
            register(app, sim, ["shop"], config.app_key, config.app_token)
            app.wh.execute("UPDATE cdp.tenants SET go_live_date = ?", (live,))
            if mode == "historical":  # history is filled back from the first incremental's start
                assert app.sync(build=False).ok

        with Ordersync(settings_for(ref_url, tmp_path), clock=ManualClock(now)) as ref:
            prepare(ref)
            served = sim.stats()["total"]
            assert ref.sync(mode=mode, build=False).ok
            needed = sim.stats()["total"] - served  # requests an uninterrupted run makes
            assert ref.tenants.get("shop").initial_sync_completed
            reference, _ = landed(ref)
            ref_checkpoints = set(ref.wh.query("SELECT stream, position FROM cdp.sync_checkpoints"))

        with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(now)) as app:
            prepare(app)

        env = {
            **os.environ,
            KEY_ENV: config.app_key,
            TOKEN_ENV: config.app_token,
            "ORDERSYNC__CLOCK": format_vtex_datetime(now, 6),
            "ORDERSYNC__SYNC__INITIAL_DAYS": "40",
            "ORDERSYNC__DBT__STATE_DIR": str(tmp_path / "dbt"),
            "ORDERSYNC__SYNC__REQUESTS_PER_MINUTE": "600000",
        }
        cmd = [
            sys.executable,
            "-m",
            "ordersync",
            "--warehouse",
            warehouse_url,
            "sync",
            "--tenant",
            "shop",
            "--mode",
            mode,
            "--no-build",
            "--json",
        ]
        killed = 0
        for trial in range(TRIALS):
            # killed after a drawn number of the store's answers, wherever in its work that falls
            target = sim.stats()["total"] + max(1, int(needed * rng.uniform(*KILL_AFTER)))
            with spawned(cmd, tmp_path / f"trial-{trial}.log", env=env) as proc:
                wait_for(
                    lambda proc=proc, target=target: proc.poll() is not None or sim.stats()["total"] >= target,
                    f"trial {trial}'s sync to make its requests",
                    timeout=300,
                )
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    killed += 1
                proc.wait()
        assert killed == TRIALS, "a sync finished before its kill: it made fewer requests than the reference run"
        final = run(cmd, "the final sync", env=env)
        assert final.returncode == 0, final.stderr

        with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(now)) as app:
            got, rows = landed(app)
            assert got == reference
            assert rows == len(reference), "a version was landed twice"
            assert set(app.wh.query("SELECT stream, position FROM cdp.sync_checkpoints")) == ref_checkpoints
            assert app.tenants.get("shop").initial_sync_completed
            statuses = [r[0] for r in app.wh.query("SELECT status FROM cdp.sync_runs ORDER BY started_at")]
            assert statuses[-1] == "succeeded"
            assert statuses.count("abandoned") >= 1  # the killed runs, marked when their tenant was taken over
            assert "running" not in statuses
            app.build()
            since = go_live_start(app.tenants.get("shop"))
            assert fct_rows(app, "shop") == truth_rows(sim, "shop", since)
