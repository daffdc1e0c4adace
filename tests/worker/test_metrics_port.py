"""`ordersync worker --metrics-port`: a real worker process serves its own metrics, and after a sync
against the simulator they count the requests it made to the store (and nothing of the warehouse's,
which is serve's to show)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from support.processes import spawned, wait_for
from support.sim import KEY_ENV, TOKEN_ENV, register, settings_for

START = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


def test_the_worker_serves_its_own_store_request_counters(tmp_path: Path, duckdb_template: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, wh)
    config = SimulatorConfig(
        port=0,
        seed=5,
        days=1,
        speed=0.0,
        start=START,
        index_lag_seconds=0,
        accounts=[AccountSpec(name="shop", orders_per_day=30)],
    )
    with start_in_thread(config) as sim:
        with Ordersync(settings_for(str(wh), tmp_path), clock=ManualClock(sim.clock())) as app:
            register(app, sim, ["shop"], config.app_key, config.app_token)
        env = {
            **os.environ,
            KEY_ENV: config.app_key,
            TOKEN_ENV: config.app_token,
            "ORDERSYNC__CLOCK": f"{sim.url}/_simulator/clock",
            "ORDERSYNC__SYNC__INITIAL_DAYS": "1",
            "ORDERSYNC__SYNC__REQUESTS_PER_MINUTE": "600000",
            "ORDERSYNC__DBT__STATE_DIR": str(tmp_path / "dbt"),
        }
        command = [
            sys.executable,
            "-m",
            "ordersync",
            "--warehouse",
            str(wh),
            "worker",
            "--tick",
            "3600",
            "--no-build",
            "--metrics-port",
            "0",
        ]
        log = tmp_path / "worker.log"
        with spawned(command, log, env=env):
            found = wait_for(
                lambda: re.search(r"worker metrics on (http://\S+/metrics)", log.read_text(errors="replace")),
                "the worker to print its metrics address",
            )
            url = found.group(1)

            def store_requests() -> dict[tuple[str, str], float]:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    text = resp.read().decode()
                return {
                    (s.labels["endpoint"], s.labels["status"]): s.value
                    for f in text_string_to_metric_families(text)
                    if f.name == "ordersync_store_requests"
                    for s in f.samples
                    if s.name.endswith("_total")
                }

            def both() -> dict[tuple[str, str], float] | None:
                counted = store_requests()
                return counted if ("list_orders", "200") in counted and ("get_order", "200") in counted else None

            counted = wait_for(both, "the sync's list and get-order requests to be counted")
            assert counted[("list_orders", "200")] >= 1 and counted[("get_order", "200")] >= 1
            with urllib.request.urlopen(url, timeout=30) as resp:
                text = resp.read().decode()
            assert "ordersync_sync_runs_total" not in text  # the warehouse's metrics are serve's alone
