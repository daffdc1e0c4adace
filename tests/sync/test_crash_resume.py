"""The sync process killed at random points, then re-run, ends identical to an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.dates import format_vtex_datetime
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig, start_in_subprocess
from simhelpers import KEY_ENV, TOKEN_ENV, fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 4


def landed(app: Ordersync) -> tuple[set[tuple[str, str]], int]:
    rows = app.wh.query("SELECT order_id, payload_hash FROM cdp.orders_landing")
    return {(r[0], r[1]) for r in rows}, len(rows)


def test_killed_sync_resumes_identically(warehouse_url: str, tmp_path: Path) -> None:
    rng = random.Random(20250310)
    config = SimulatorConfig(
        port=0,
        seed=5,
        days=4,
        speed=0.0,
        start=datetime(2025, 3, 10, 15, tzinfo=UTC),
        index_lag_seconds=240,
        fault_rate=0.02,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name="shop", orders_per_day=2_000)],
    )
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        sim.advance(20 * 60)
        now = sim.clock()

        # The reference: one uninterrupted run, always into a DuckDB file.
        ref_url = str(tmp_path / "reference.duckdb")
        with Ordersync(settings_for(ref_url, tmp_path), clock=ManualClock(now)) as ref:
            register(ref, sim, ["shop"], config.app_key, config.app_token)
            began = time.perf_counter()
            assert ref.sync(build=False).ok
            duration = time.perf_counter() - began
            reference, _ = landed(ref)
            ref_checkpoints = set(ref.wh.query("SELECT stream, position FROM cdp.sync_checkpoints"))

        with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(now)) as app:
            register(app, sim, ["shop"], config.app_key, config.app_token)

        env = {
            **os.environ,
            KEY_ENV: config.app_key,
            TOKEN_ENV: config.app_token,
            "ORDERSYNC__CLOCK": format_vtex_datetime(now, 6),
            "ORDERSYNC__SYNC__INITIAL_DAYS": "40",
            "ORDERSYNC__DBT__STATE_DIR": str(tmp_path / "dbt"),
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
            "--no-build",
            "--json",
        ]
        killed = 0
        for _ in range(TRIALS):
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # the CLI needs about a second to start; kill somewhere in the landing after that
            time.sleep(rng.uniform(1.0, 1.0 + duration))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
        assert killed >= 2, "the sync finished before it could be killed; give it more work"
        final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr

        with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(now)) as app:
            got, rows = landed(app)
            assert got == reference
            assert rows == len(reference), "a version was landed twice"
            assert set(app.wh.query("SELECT stream, position FROM cdp.sync_checkpoints")) == ref_checkpoints
            statuses = [r[0] for r in app.wh.query("SELECT status FROM cdp.sync_runs ORDER BY started_at")]
            assert statuses[-1] == "succeeded"
            assert statuses.count("abandoned") >= 1  # the killed runs, marked when their tenant was taken over
            assert "running" not in statuses
            app.build()
            assert fct_rows(app, "shop") == truth_rows(sim, "shop")
