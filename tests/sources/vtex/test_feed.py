"""VTEX Feed v3 against the simulator over HTTP: setup (and its refusal), rounds that land every
changed order once whatever the duplicates, a consumer killed between landing and committing, the
back-off after a 429 and the feed's request cap."""

from __future__ import annotations

import json
import math
import threading
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ordersync.aio import run_async
from ordersync.config import FeedSettings, ServeSettings, Settings
from ordersync.errors import ConfigError
from ordersync.facade import Ordersync
from ordersync.observe.capture import capture_health
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.vtex.feed import FeedConsumer
from ordersync.sources.vtex.setup import RETENTION_SECONDS, VISIBILITY_TIMEOUT_SECONDS, CaptureFilter, event_filter
from ordersync.tenants import Tenant
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker
from support.cli import ordersync
from support.processes import wait_for
from support.sim import KEY_ENV, TOKEN_ENV, configure_events, fct_rows, register, settings_for

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 20, tzinfo=UTC)
ACCOUNT = "store1"


def sim_config(seed: int, orders_per_day: float = 40, **kw: Any) -> SimulatorConfig:
    return SimulatorConfig(
        port=0, seed=seed, accounts=[AccountSpec(ACCOUNT, orders_per_day)], days=2, start=START, speed=0.0, **kw
    )


def settings(url: str, tmp_path: Path, **feed: Any) -> Settings:
    base = settings_for(url, tmp_path)
    return base.model_copy(update={"feed": FeedSettings(**feed)}) if feed else base


def statuses(sim: Any) -> dict[str, str]:
    return {o["orderId"]: o["status"] for o in sim.truth(ACCOUNT)}


def feed_landings(app: Ordersync) -> list[tuple[str, str]]:
    rows = app.wh.query("SELECT order_id, payload_hash FROM cdp.orders_landing WHERE source = 'feed'")
    return [(r[0], r[1]) for r in rows]


def queue(sim: Any) -> dict[str, Any]:
    (feed,) = sim.events()["feeds"]
    return dict(feed)


def feed_calls(sim: Any) -> int:
    requests = sim.stats()["requests"]
    return sum(sum(requests.get(route, {}).values()) for route in ("feed", "feed_post"))


def test_rounds_land_every_changed_order_once_and_fct_orders_matches_the_store(
    warehouse_url: str, tmp_path: Path
) -> None:
    config = sim_config(seed=11)
    with start_in_thread(config) as sim, Ordersync(settings(warehouse_url, tmp_path)) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        done = app.feed_setup(ACCOUNT)
        assert done.replaced is None and app.tenants.get(ACCOUNT).change_capture == "feed"
        cfg = queue(sim)
        assert cfg["filter"] == event_filter()  # every change, every time
        assert (cfg["visibility_timeout_seconds"], cfg["retention_seconds"]) == (
            VISIBILITY_TIMEOUT_SECONDS,
            RETENTION_SECONDS,
        )
        sim.set_event_settings(duplicate_rate=0.5)
        before = statuses(sim)
        sim.advance(4 * 3600)

        (first,) = app.feed_poll()
        assert first.status == "polled" and first.error is None
        assert first.events > first.orders > 0  # duplicates and several changes of one order
        assert first.committed == first.events and first.landed == first.orders
        (health,) = capture_health(app.wh, [app.tenants.get(ACCOUNT)])
        assert first.lag_seconds is not None and health.feed_lag_seconds == first.lag_seconds > 0
        (again,) = app.feed_poll(ACCOUNT)
        assert (again.events, again.landed) == (0, 0)
        (health,) = capture_health(app.wh, [app.tenants.get(ACCOUNT)])
        assert health.feed_lag_seconds == again.lag_seconds == 0  # nothing waited
        assert health.feed_last_status == "polled" and health.feed_last_ok_at == health.feed_last_round_at
        recorded = app.wh.query_one(
            "SELECT sum(rounds), sum(events), sum(landed), sum(requests) FROM cdp.capture_hours"
        )
        assert recorded is not None and [int(v) for v in recorded] == [
            2,
            first.events,
            first.landed,
            first.store_requests + again.store_requests,
        ]
        assert first.store_requests > first.requests > 0  # the get-order requests are counted too
        q = queue(sim)
        assert q["duplicates"] > 0 and q["quantity"] == 0 and q["committed"] == q["enqueued"]

        now = statuses(sim)
        changed = {oid for oid, status in now.items() if before.get(oid) != status}
        landed = feed_landings(app)
        landed_ids = {oid for oid, _ in landed}
        assert changed and changed <= landed_ids  # every status change reached the warehouse
        assert len(landed) == len(landed_ids)  # one version per order: no duplicate landed

        sim.advance(2 * 3600)  # more changes, to orders landed before and new ones
        (second,) = app.feed_poll()
        assert second.status == "polled" and second.landed == second.orders > 0
        later = statuses(sim)
        assert {oid for oid, status in later.items() if now.get(oid) != status} <= {o for o, _ in feed_landings(app)}
        landed = feed_landings(app)
        landed_ids = {oid for oid, _ in landed}
        assert len(set(landed)) == len(landed) == first.landed + second.landed
        app.build()
        truth = {(o["orderId"], o["status"], int(o["value"])) for o in sim.truth(ACCOUNT)}
        assert fct_rows(app, ACCOUNT) == {row for row in truth if row[0] in landed_ids}


def test_setup_refuses_a_feed_already_there_unless_forced(tmp_path: Path) -> None:
    config = sim_config(seed=12)
    with start_in_thread(config) as sim, Ordersync(settings(str(tmp_path / "wh.duckdb"), tmp_path)) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        app.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        with pytest.raises(ConfigError, match=r"captures changes by none.*feed setup"):
            app.feed_poll(ACCOUNT)
        with pytest.raises(ConfigError, match="no feed"):
            app.feed_setup("app")
        with pytest.raises(ConfigError, match="no feed to poll"):
            app.feed_poll("app")
        assert app.feed_poll() == []  # nobody polls a feed yet
        erp = {"filter": {"type": "FromOrders", "expression": 'status = "invoiced"'}}
        configure_events(sim, ACCOUNT, "feed", config.app_key, config.app_token, erp)
        with pytest.raises(ConfigError, match=r"already has a feed.*FromOrders.*ERP.*--force"):
            app.feed_setup(ACCOUNT)
        assert app.tenants.get(ACCOUNT).change_capture == "none"
        assert queue(sim)["filter"]["type"] == "FromOrders"  # left alone
        done = app.feed_setup(ACCOUNT, force=True)
        assert done.replaced is not None and done.replaced["filter"]["type"] == "FromOrders"
        assert queue(sim)["filter"] == event_filter()
        assert app.tenants.get(ACCOUNT).change_capture == "feed"
        mine = app.feed_setup(ACCOUNT, what="status")  # its own feed: rewritten without force
        assert mine.replaced is not None and queue(sim)["filter"] == event_filter(CaptureFilter.STATUS)
        app.update_tenant(ACCOUNT, change_capture="none")
        with pytest.raises(ConfigError, match=r"already has a feed.*FromWorkflow on 34 statuses.*--force"):
            app.feed_setup(ACCOUNT)  # ordersync's filter, but this tenant no longer reads that feed
        with pytest.raises(ConfigError, match=r"--filter 'edits' is unknown; use all .* or status"):
            app.feed_setup(ACCOUNT, force=True, what="edits")
        assert queue(sim)["filter"]["type"] == "FromWorkflow"  # left alone
        app.update_tenant(ACCOUNT, change_capture="feed")
        gone = urllib.request.Request(
            f"{sim.base_url(ACCOUNT)}/api/orders/feed/config",
            method="DELETE",
            headers={"X-VTEX-API-AppKey": config.app_key, "X-VTEX-API-AppToken": config.app_token},
        )
        urllib.request.urlopen(gone, timeout=10).close()  # as VTEX does after 4 days without events
        (lost,) = app.feed_poll()
        assert lost.status == "failed" and "feed setup --tenant store1" in (lost.error or "")


class Killed(Exception):
    pass


def test_a_consumer_killed_before_committing_gets_the_events_again_and_lands_nothing_new(
    warehouse_url: str, tmp_path: Path
) -> None:
    config = sim_config(seed=13)
    with start_in_thread(config) as sim, Ordersync(settings(warehouse_url, tmp_path)) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        app.feed_setup(ACCOUNT)
        sim.advance(3 * 3600)
        sim.quiesce()  # no more changes: what comes back is the same events

        def die(_: Tenant) -> None:
            raise Killed

        s = app.settings
        consumer = FeedConsumer(app.wh, app.clock, s.sync, s.feed, app.leases(), after_landing=die)
        with pytest.raises(Killed):
            run_async(consumer.poll(app.tenants.get(ACCOUNT)))
        landed = feed_landings(app)
        assert landed
        q = queue(sim)
        assert q["committed"] == 0 and q["invisible"] == q["quantity"] > 0

        (hidden,) = app.feed_poll()
        assert (hidden.events, hidden.landed) == (0, 0)  # still within their visibility timeout
        sim.advance(VISIBILITY_TIMEOUT_SECONDS + 1)
        (back,) = app.feed_poll()
        assert back.events == q["quantity"] and back.committed == back.events
        assert back.landed == 0 and back.duplicates == back.orders == len(landed)
        assert sorted(feed_landings(app)) == sorted(landed)
        assert queue(sim)["quantity"] == 0


def test_a_429_from_the_feed_backs_the_tenant_off(tmp_path: Path) -> None:
    config = sim_config(seed=14, orders_per_day=120, rate_limit_per_minute=120)
    s = settings(str(tmp_path / "wh.duckdb"), tmp_path, backoff_seconds=1.5)
    with start_in_thread(config) as sim, Ordersync(s) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        app.feed_setup(ACCOUNT)  # waits its 429s out
        sim.advance(6 * 3600)
        (hit,) = app.feed_poll()
        assert hit.status == "throttled" and hit.throttled == 1 and hit.retry_in == 1.5
        assert (hit.landed, hit.committed) == (0, 0) and "429" in (hit.error or "")
        calls = feed_calls(sim)
        (resting,) = app.feed_poll()
        assert resting.status == "backing-off" and 0 < (resting.retry_in or 0) <= 1.5
        assert resting.requests == 0 and feed_calls(sim) == calls  # not one request meanwhile
        # the throttled round is recorded, the one backing off (it did nothing) is not
        assert app.wh.query_one("SELECT rounds, failed, throttled FROM cdp.capture_hours") == (1, 0, 1)
        (health,) = capture_health(app.wh, [app.tenants.get(ACCOUNT)])
        assert health.feed_last_status == "throttled" and "429" in (health.feed_last_error or "")

        def past_backoff() -> Any:
            (r,) = app.feed_poll()  # one that still backs off asks nothing
            return r if r.status != "backing-off" else None

        later = wait_for(past_backoff, "the back-off to end")
        assert later.status in ("polled", "throttled") and later.requests > 0 and feed_calls(sim) > calls


def test_feed_calls_keep_to_the_cap_and_commit_ten_handles_a_call(tmp_path: Path) -> None:
    config = sim_config(seed=15)
    cap = 300.0
    s = settings(str(tmp_path / "wh.duckdb"), tmp_path, requests_per_minute=cap)
    with start_in_thread(config) as sim, Ordersync(s) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        app.feed_setup(ACCOUNT)
        sim.advance(4 * 3600)
        requests = sim.stats()["requests"]
        before = {route: sum(requests.get(route, {}).values()) for route in ("feed", "feed_post")}
        (r,) = app.feed_poll()
        requests = sim.stats()["requests"]
        reads, commits = (sum(requests.get(route, {}).values()) - before[route] for route in ("feed", "feed_post"))
        assert r.events >= 20 and (reads, commits) == (r.lots, math.ceil(r.committed / 10))
        assert r.requests == reads + commits
        # paced: no two feed calls closer than 60/cap seconds (one call may go at once)
        assert r.seconds >= (r.requests - 1) * 60 / cap - 0.1


def test_serve_polls_the_feed_and_builds_what_landed(tmp_path: Path) -> None:
    config = sim_config(seed=16)
    url = str(tmp_path / "wh.duckdb")
    with start_in_thread(config) as sim:
        with Ordersync(settings(url, tmp_path)) as setup:
            register(setup, sim, [ACCOUNT], config.app_key, config.app_token)
            setup.feed_setup(ACCOUNT)
        s = settings(url, tmp_path, poll_seconds=0.2)
        s = s.model_copy(update={"serve": ServeSettings(port=0, build_every_seconds=0.5)})
        app = Ordersync(s)
        with serving_in_thread(app, ServeOptions(s.serve, worker=False)) as (_, serve):
            sim.advance(3 * 3600)
            sim.quiesce()
            truth = {(o["orderId"], o["status"], int(o["value"])) for o in sim.truth(ACCOUNT)}

            def built() -> bool:
                # serve's own connection, under its lock: dbt wants the DuckDB file alone
                with serve.gate.lock:
                    ids = {oid for oid, _ in feed_landings(app)}
                    if not ids or queue(sim)["quantity"] or not app.table_exists("fct_orders"):
                        return False
                    return fct_rows(app, ACCOUNT) == {row for row in truth if row[0] in ids}

            wait_for(built, "serve to land and build the feed's changes")


@pytest.mark.postgres
def test_the_worker_polls_the_feed_beside_its_ticks(pg_url: str, tmp_path: Path) -> None:
    config = sim_config(seed=17)
    s = settings(pg_url, tmp_path, poll_seconds=0.2)
    with start_in_thread(config) as sim, Ordersync(s) as app:
        register(app, sim, [ACCOUNT], config.app_key, config.app_token)
        app.feed_setup(ACCOUNT)
        app.tenants.mark_synced(app.tenants.get(ACCOUNT).tenant_id, datetime.now(UTC))  # no pull due
        worker = Worker(app, ScheduleSettings(tick_seconds=3600, build_after_tick=False))
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            sim.advance(3 * 3600)
            wait_for(lambda: queue(sim)["enqueued"] > 0 and queue(sim)["quantity"] == 0, "the feed's queue read empty")
        finally:
            stop.set()
            thread.join(timeout=30)
        with Ordersync(s) as probe:
            assert feed_landings(probe)
        assert not thread.is_alive()


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = sim_config(seed=18)
    monkeypatch.setenv(KEY_ENV, config.app_key)
    monkeypatch.setenv(TOKEN_ENV, config.app_token)
    with start_in_thread(config) as sim:
        added = ordersync(
            ["tenants", "add", ACCOUNT, "--account", ACCOUNT, "--base-url", sim.base_url(ACCOUNT),
             "--app-key-env", KEY_ENV, "--app-token-env", TOKEN_ENV],
            tmp_path,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        early = ordersync(["feed", "poll", "--tenant", ACCOUNT], tmp_path)
        assert early.returncode == 2 and "ordersync feed setup --tenant store1" in early.stderr
        setup = ordersync(["feed", "setup", "--tenant", ACCOUNT], tmp_path)
        assert setup.returncode == 0 and "feed configured" in setup.stdout, setup.stderr
        assert "every change" in setup.stdout
        status = ordersync(["feed", "setup", "--tenant", ACCOUNT, "--filter", "status"], tmp_path)
        assert status.returncode == 0 and "FromWorkflow on 34 statuses" in status.stdout, status.stderr
        assert "replaced" in status.stdout and queue(sim)["filter"]["type"] == "FromWorkflow"
        bad = ordersync(["feed", "setup", "--tenant", ACCOUNT, "--filter", "edits"], tmp_path)
        assert bad.returncode == 2 and "--filter 'edits' is unknown" in bad.stderr
        again = ordersync(["feed", "setup", "--tenant", ACCOUNT], tmp_path)  # its own feed: no --force needed
        assert again.returncode == 0 and queue(sim)["filter"] == event_filter(), again.stderr
        sim.advance(3 * 3600)
        polled = ordersync(["feed", "poll", "--json"], tmp_path)
        assert polled.returncode == 0, polled.stderr
        (round_,) = json.loads(polled.stdout)
        assert round_["status"] == "polled" and round_["landed"] > 0
        hook = ordersync(["hook", "setup", "--tenant", ACCOUNT, "--url", "http://127.0.0.1:9"], tmp_path)
        assert hook.returncode == 2 and "start ordersync serve first" in hook.stderr
