"""Three worker processes on one PostgreSQL warehouse, following the simulator's clock: no tenant is
ever synced by two at once (asserted from the run log), and killing one mid-run loses nothing."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from support.processes import deadline, spawned, wait_for
from support.sim import KEY_ENV, TOKEN_ENV, fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow, pytest.mark.dbt]

TENANTS = [f"shop{i}" for i in range(1, 7)]
SPEED = 1800.0  # simulated seconds per real second: an hourly tick every 2 s
#: a worker stalled longer than this (a loaded machine) would lose its tenants: far above a tick
LEASE_SECONDS = 20
INDEX_LAG = timedelta(seconds=240)


def test_three_workers_never_share_a_tenant_and_survive_a_kill(pg_url: str, tmp_path: Path) -> None:
    start = datetime(2025, 5, 5, 12, tzinfo=UTC)
    config = SimulatorConfig(
        port=0,
        seed=33,
        days=2,
        speed=0.0,
        start=start,
        index_lag_seconds=int(INDEX_LAG.total_seconds()),
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

        def command(name: str) -> list[str]:
            return [
                sys.executable, "-m", "ordersync", "--warehouse", pg_url, "worker", "--tick", "3600",
                "--concurrency", "3", "--lease-seconds", str(LEASE_SECONDS), "--no-build", "--worker-id", name,
            ]  # fmt: skip

        def log(name: str) -> str:
            path = tmp_path / f"{name}.log"
            return path.read_text(errors="replace") if path.exists() else ""

        probe = Ordersync(settings_for(pg_url, tmp_path))

        def runs() -> list[dict[str, Any]]:
            return probe.wh.query_dicts(
                "SELECT tenant_id, worker_id, status, started_at, wall_started_at, wall_finished_at FROM cdp.sync_runs"
            )

        def succeeded_after(moment: datetime, by: Callable[[dict[str, Any]], bool] = lambda r: True) -> set[int]:
            """Tenants with a successful run started at or after `moment` (simulated), among runs `by` keeps."""
            ok = [r for r in runs() if r["status"] == "succeeded" and r["started_at"] >= moment]
            return {r["tenant_id"] for r in ok if by(r)}

        with contextlib.ExitStack() as stack:
            stack.callback(probe.close)
            workers = {
                name: stack.enter_context(spawned(command(name), tmp_path / f"{name}.log", env=env))
                for name in ("w1", "w2", "w3")
            }
            for name in workers:  # time moves once every worker is up
                wait_for(lambda name=name: f"worker {name} on" in log(name), f"worker {name} to start")
            sim.set_speed(SPEED)

            running = "SELECT tenant_id FROM cdp.sync_runs WHERE worker_id = 'w1' AND status = 'running'"
            wait_for(lambda: probe.wh.query(running), "worker w1 to be in the middle of a run")
            workers["w1"].send_signal(signal.SIGKILL)
            workers["w1"].wait()
            killed_at = datetime.now(UTC)
            victims = {r[0] for r in probe.wh.query(running)}
            assert victims
            tenant_ids = {int(r[0]) for r in probe.wh.query("SELECT tenant_id FROM cdp.tenants")}

            # The survivors take the killed worker's tenants over once its leases run out, and every
            # tenant goes on being synced: three runs each at least, to see turns being taken.
            wait_for(
                lambda: (
                    victims
                    <= succeeded_after(start, lambda r: r["worker_id"] != "w1" and r["wall_started_at"] > killed_at)
                ),
                "the survivors to take over the killed worker's tenants",
                timeout=300,
            )

            def succeeded_runs() -> Counter[int]:
                return Counter(r["tenant_id"] for r in runs() if r["status"] == "succeeded")

            wait_for(
                lambda: all(succeeded_runs()[t] >= 3 for t in tenant_ids), "three successful runs of every tenant", 300
            )
            # The store stops; a run that starts an hour past its index lag reads everything.
            sim.quiesce()
            settled = sim.clock() + INDEX_LAG + timedelta(hours=1)
            wait_for(lambda: succeeded_after(settled) >= tenant_ids, "every tenant's run after the store stopped", 300)
            for name in ("w2", "w3"):
                assert workers[name].poll() is None, log(name)[-2000:]
            for name in ("w2", "w3"):
                workers[name].send_signal(signal.SIGTERM)
            for name in ("w2", "w3"):
                assert workers[name].wait(timeout=deadline(120)) == 0, log(name)[-2000:]

        sim.set_speed(0)
        with Ordersync(settings_for(pg_url, tmp_path), clock=ManualClock(sim.clock())) as app:
            runs_logged = app.wh.query_dicts(
                "SELECT tenant_id, worker_id, status, wall_started_at, wall_finished_at FROM cdp.sync_runs"
            )
            by_tenant: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for r in runs_logged:
                by_tenant[int(r["tenant_id"])].append(r)
            assert len({r["worker_id"] for r in runs_logged}) == 3
            for tid, rs in by_tenant.items():
                rs.sort(key=lambda r: r["wall_started_at"])
                for prev, cur in itertools.pairwise(rs):
                    ended = prev["wall_finished_at"] or killed_at  # a killed run ended with its worker
                    assert cur["wall_started_at"] >= ended, (tid, prev, cur)
            for tid in victims:
                statuses = [r["status"] for r in by_tenant[tid] if r["worker_id"] == "w1"]
                assert "running" not in statuses and "abandoned" in statuses

            # Nothing lost: what the workers landed alone, built, equals the source.
            app.build()
            for name in TENANTS:
                assert fct_rows(app, name) == truth_rows(sim, name), name
