"""The worker never dies: a failed build, a lost warehouse connection and an unreachable clock are
logged (builds recorded in cdp.build_runs, shown by status), and the same worker carries on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ordersync.clock import ManualClock, RemoteClock
from ordersync.errors import TransformError
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_subprocess
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker
from support.sim import fct_rows, register, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

START = datetime(2025, 4, 2, 15, tzinfo=UTC)


def _config() -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        seed=5,
        days=2,
        speed=0.0,
        start=START,
        index_lag_seconds=60,
        rate_limit_per_minute=120_000,
        accounts=[AccountSpec(name="shop", orders_per_day=40)],
    )


def _schedule() -> ScheduleSettings:
    return ScheduleSettings(tick_seconds=3600, retry_backoff_seconds=0.01, attempts=2)


def test_a_failed_build_is_recorded_and_the_worker_goes_on(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ordersync.transform.build as transform

    real = transform.run_dbt
    calls: list[int] = []

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise TransformError("dbt build failed: fct_orders error: injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(transform, "run_dbt", failing_once)
    config = _config()
    with start_in_subprocess(config) as sim:
        clock = ManualClock(sim.clock())
        with Ordersync(settings_for(warehouse_url, tmp_path), clock=clock) as app:
            register(app, sim, ["shop"], config.app_key, config.app_token)
            worker = Worker(app, _schedule())
            first = worker.tick()
            assert first.landed > 0 and not first.built
            assert first.build_error and "injected" in first.build_error
            builds = app.recent_builds()
            assert [b["status"] for b in builds] == ["failed"]
            assert "injected" in builds[0]["error"]
            assert app.status()[0]["last_build_status"] == "failed"

            sim.quiesce()
            sim.advance(7 * 3600)
            clock.set(sim.clock())
            second = worker.tick()
            assert second.built and second.build_error is None
            assert [b["status"] for b in app.recent_builds()] == ["succeeded", "failed"]
            assert app.status()[0]["last_build_status"] == "succeeded"
            assert fct_rows(app, "shop") == truth_rows(sim, "shop")


@pytest.mark.postgres
def test_a_lost_connection_is_reopened_by_the_same_worker(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config()
    with start_in_subprocess(config) as sim:
        clock = ManualClock(sim.clock())
        with Ordersync(settings_for(pg_url, tmp_path), clock=clock) as app:
            register(app, sim, ["shop"], config.app_key, config.app_token)
            worker = Worker(app, _schedule())
            worker.run(once=True)
            landed = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")
            assert landed > 0

            # The server drops every connection of ordersync's (as a restart or a failover would).
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            sim.quiesce()
            sim.advance(7 * 3600)
            clock.set(sim.clock())
            with caplog.at_level(logging.ERROR, logger="ordersync.worker"):
                for _ in range(2):  # at worst one tick fails on the dead connection, and is survived
                    worker.run(once=True)
            assert app.wh.scalar("SELECT count(*) FROM cdp.sync_runs WHERE status = 'succeeded'") >= 2
            assert fct_rows(app, "shop") == truth_rows(sim, "shop")


def test_an_unreachable_clock_is_survived(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(str(tmp_path / "wh.duckdb"), tmp_path)
    with Ordersync(settings, clock=RemoteClock("http://127.0.0.1:9/_simulator/clock")) as app:
        app.init()
        worker = Worker(app, _schedule())
        with caplog.at_level(logging.ERROR, logger="ordersync.worker"):
            worker.run(once=True)  # returns instead of raising
        assert any("tick failed" in r.getMessage() for r in caplog.records)
        app.clock = ManualClock(START)
        report = worker.tick()
        assert report.outcomes == []
