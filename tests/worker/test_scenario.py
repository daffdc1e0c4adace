"""Five simulated days, five tenants of different sizes, time zones, frequencies and go-live dates,
with faults and rate limits on, driven hour by hour through the worker.

Five days, Thursday to Monday, hold every rule of the schedule at least once per tenant:
incrementals on each tenant's frequency, the historical gap-fill (up to 40 days back) finished
off-hours in the first nights, and the Sunday 02:00 full sync in every time zone (from UTC+5:30 to
UTC-3), on no other day. That a full
sync comes once a Sunday week after week is the schedule's own rule, proven in test_schedule.py."""

from __future__ import annotations

import itertools
import os
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.lifecycle import MAX_CHANGE_HOURS
from ordersync.simulator.server import start_in_subprocess
from ordersync.sync.windows import go_live_start
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker
from support.sim import KEY_ENV, TOKEN_ENV, fct_rows, settings_for, truth_rows

pytestmark = [pytest.mark.integration, pytest.mark.dbt, pytest.mark.slow]

START = datetime(2025, 3, 6, 0, tzinfo=UTC)  # a Thursday: every zone's Sunday 02:00 comes on day 3 or 4
DAYS = 5
# name, orders a day, time zone, sync frequency (hours), go-live (days before START) or None
TENANTS = [
    ("alpha", 60, "America/Argentina/Buenos_Aires", 6, 40),
    ("bravo", 20, "America/Sao_Paulo", 4, 20),
    ("charlie", 8, "Europe/Madrid", 12, 30),
    ("delta", 30, "Asia/Kolkata", 6, 10),
    ("echo", 3, "UTC", 24, None),
]


def runs_by_tenant(app: Ordersync) -> dict[str, list[dict[str, Any]]]:
    rows = app.wh.query_dicts(
        "SELECT t.tenant_name, r.mode, r.status, r.started_at, r.wall_started_at, r.wall_finished_at, "
        "r.discrepancies, r.discrepancies_fixed FROM cdp.sync_runs r JOIN cdp.tenants t USING (tenant_id) "
        "ORDER BY r.started_at, r.wall_started_at"
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["tenant_name"]].append(r)
    return out


def test_five_days_of_scheduled_syncs(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(
        port=0,
        seed=21,
        days=45,
        speed=0.0,
        start=START,
        index_lag_seconds=240,
        fault_rate=0.02,
        rate_limit_per_minute=30_000,
        accounts=[AccountSpec(name=n, orders_per_day=d) for n, d, *_ in TENANTS],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    with start_in_subprocess(config) as sim:
        clock = ManualClock(sim.clock())
        # A cancellation no list filter finds (an unpaid bank slip's, up to MAX_CHANGE_HOURS after the
        # order) is seen by the first incremental after it only while the order is within the trailing
        # window: that takes a window of at least those hours plus the longest frequency (echo's 24).
        trailing = (MAX_CHANGE_HOURS + max(freq for *_, freq, _ in TENANTS) + 1) / 24
        with Ordersync(settings_for(warehouse_url, tmp_path, trailing_days=trailing), clock=clock) as app:
            for name, _, tz, freq, live in TENANTS:
                app.add_tenant(
                    name,
                    account=name,
                    base_url=sim.base_url(name),
                    app_key_env=KEY_ENV,
                    app_token_env=TOKEN_ENV,
                    timezone=tz,
                    frequency_hours=freq,
                    go_live_date=(START - timedelta(days=live)).date() if live else None,
                )
            worker = Worker(app, ScheduleSettings(build_after_tick=False, concurrency=3, retry_backoff_seconds=0.2))
            began = time.perf_counter()
            for _ in range(DAYS * 24):
                clock.set(sim.clock())
                worker.tick()
                sim.advance(3600)
            elapsed = time.perf_counter() - began

            runs = runs_by_tenant(app)
            for name, _, tz, freq, _live in TENANTS:
                zone = ZoneInfo(tz)
                mine = runs[name]
                ok = [r for r in mine if r["status"] == "succeeded"]
                # incrementals on the tenant's frequency (full syncs also count as a sync)
                syncs = [r for r in ok if r["mode"] in ("incremental", "full")]
                for prev, cur in itertools.pairwise(syncs):
                    if cur["mode"] == "incremental":
                        gap = cur["started_at"] - prev["started_at"]
                        assert timedelta(hours=freq) <= gap <= timedelta(hours=freq + 1), (name, prev, cur)
                first_incremental = min(r["started_at"] for r in ok if r["mode"] == "incremental")
                for r in mine:
                    if r["mode"] == "historical":
                        local = r["started_at"].astimezone(zone)
                        assert not 8 <= local.hour < 20, (name, local)
                        assert r["started_at"] >= first_incremental
                        same_tick = [
                            x for x in mine if x["started_at"] == r["started_at"] and x["mode"] != "historical"
                        ]
                        assert all(x["wall_finished_at"] <= r["wall_started_at"] for x in same_tick)
                # exactly one full sync on each local Sunday after the first sync, and on no other day
                fulls = [r["started_at"].astimezone(zone) for r in ok if r["mode"] == "full"]
                last_tick = START + timedelta(hours=DAYS * 24 - 1)
                slots = [
                    datetime.combine(START.date() + timedelta(days=d), datetime.min.time(), tzinfo=zone).replace(hour=2)
                    for d in range(-1, DAYS + 1)
                ]
                sundays: list[date] = [
                    s.date() for s in slots if s.weekday() == 6 and first_incremental < s <= last_tick
                ]
                assert sundays, f"{name}: no local Sunday 02:00 within the {DAYS} days"
                assert sorted(f.date() for f in fulls) == sundays, (name, fulls)
                assert all(f.hour == 2 or (f.hour == 3 and f.minute) for f in fulls), fulls
                for r in ok:
                    if r["mode"] == "full":
                        assert r["discrepancies_fixed"] == r["discrepancies"], r
                # history done
                assert app.tenants.get(name).initial_sync_completed, name

            # Converge: stop the source, let the index catch up, sync, build: no gaps, truth exactly.
            sim.quiesce()
            sim.advance(1800)
            clock.set(sim.clock())
            final = app.sync()
            assert final.ok, [o.error for o in final.outcomes]
            assert app.gaps(days=30) == []
            for name, *_ in TENANTS:
                since = go_live_start(app.tenants.get(name)) or START - timedelta(days=40)  # initial_days
                assert fct_rows(app, name) == truth_rows(sim, name, since), name
    print(f"{DAYS} simulated days in {elapsed:.0f} s")
