"""Three worker processes on one PostgreSQL warehouse, following the simulator's clock: no tenant is
ever synced by two at once (asserted from the run log), and killing one mid-run loses nothing."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig, start_in_subprocess
from support.sim import KEY_ENV, TOKEN_ENV, fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow, pytest.mark.dbt]

TENANTS = [f"shop{i}" for i in range(1, 7)]
SPEED = 1800.0  # simulated seconds per real second: an hourly tick every 2 s


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_three_workers_never_share_a_tenant_and_survive_a_kill(pg_url: str, tmp_path: Path) -> None:
    start = datetime(2025, 5, 5, 12, tzinfo=UTC)
    config = SimulatorConfig(
        port=0,
        seed=33,
        days=2,
        speed=0.0,
        start=start,
        index_lag_seconds=240,
        fault_rate=0.02,
        rate_limit_per_minute=60_000,
        accounts=[AccountSpec(name=n, orders_per_day=300) for n in TENANTS],
    )
    with start_in_subprocess(config) as sim:
        with Ordersync(settings_for(pg_url, tmp_path), clock=ManualClock(sim.clock())) as app:
            register(app, sim, TENANTS, config.app_key, config.app_token)
            app.wh.execute("UPDATE cdp.tenants SET sync_frequency_hours = 1")
        env = {
            **os.environ,
            KEY_ENV: config.app_key,
            TOKEN_ENV: config.app_token,
            "ORDERSYNC__CLOCK": f"{sim.url}/_simulator/clock",
            "ORDERSYNC__SYNC__INITIAL_DAYS": "3",
            "ORDERSYNC__DBT__STATE_DIR": str(tmp_path / "dbt"),
            "ORDERSYNC__SYNC__REQUESTS_PER_MINUTE": "600000",
        }

        def worker(name: str) -> subprocess.Popen[bytes]:
            cmd = [
                sys.executable,
                "-m",
                "ordersync",
                "--warehouse",
                pg_url,
                "worker",
                "--tick",
                "3600",
                "--concurrency",
                "3",
                "--lease-seconds",
                "3",
                "--no-build",
                "--worker-id",
                name,
            ]
            log = (tmp_path / f"{name}.log").open("wb")
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)

        workers = {name: worker(name) for name in ("w1", "w2", "w3")}
        try:
            time.sleep(3)  # let them start before time moves
            sim.set_speed(SPEED)
            with Ordersync(settings_for(pg_url, tmp_path)) as probe:

                def w1_running() -> bool:
                    return bool(
                        probe.wh.scalar(
                            "SELECT count(*) FROM cdp.sync_runs WHERE worker_id = 'w1' AND status = 'running'"
                        )
                    )

                time.sleep(6)
                wait_for(w1_running, timeout=60)
                workers["w1"].send_signal(signal.SIGKILL)
                workers["w1"].wait()
                killed_at = datetime.now(UTC)
                victims = {
                    r[0]
                    for r in probe.wh.query(
                        "SELECT tenant_id FROM cdp.sync_runs WHERE worker_id = 'w1' AND status = 'running'"
                    )
                }
                assert victims
                time.sleep(8)
                sim.quiesce()
                time.sleep(6)  # three more simulated hours: every tenant's hourly incremental runs again
        finally:
            for p in workers.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in workers.values():
                p.wait(timeout=60)
        assert all(workers[w].returncode == 0 for w in ("w2", "w3")), [
            (tmp_path / f"{w}.log").read_text()[-2000:] for w in ("w2", "w3")
        ]

        sim.set_speed(0)
        with Ordersync(settings_for(pg_url, tmp_path), clock=ManualClock(sim.clock())) as app:
            runs = app.wh.query_dicts(
                "SELECT tenant_id, worker_id, status, wall_started_at, wall_finished_at FROM cdp.sync_runs"
            )
            by_tenant: dict[int, list[dict[str, object]]] = defaultdict(list)
            for r in runs:
                by_tenant[int(r["tenant_id"])].append(r)
            assert len({r["worker_id"] for r in runs}) == 3
            for tid, rs in by_tenant.items():
                rs.sort(key=lambda r: r["wall_started_at"])  # type: ignore[arg-type, return-value]
                for prev, cur in itertools.pairwise(rs):
                    ended = prev["wall_finished_at"] or killed_at  # a killed run ended with its worker
                    assert cur["wall_started_at"] >= ended, (tid, prev, cur)  # type: ignore[operator]
                assert sum(1 for r in rs if r["status"] == "succeeded") >= 3, tid
            for tid in victims:
                taken_over = [
                    r
                    for r in by_tenant[tid]
                    if r["worker_id"] != "w1" and r["status"] == "succeeded" and r["wall_started_at"] > killed_at  # type: ignore[operator]
                ]
                assert taken_over, tid
                statuses = [r["status"] for r in by_tenant[tid] if r["worker_id"] == "w1"]
                assert "running" not in statuses and "abandoned" in statuses

            # Nothing lost: what the workers landed alone, built, equals the source.
            app.build()
            for name in TENANTS:
                assert fct_rows(app, name) == truth_rows(sim, name), name
