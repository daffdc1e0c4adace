"""`verify` on both warehouses: every check passes on a warehouse synced from the simulator and
built, and each one fails when the warehouse is broken on purpose (a failing dbt test, a day that
no longer reconciles with the source, a stale or missing fct_orders row, a tampered revenue_daily
row, a full refresh in the build log); the settings it judges by; the CLI's exit status and JSON.

One synced warehouse per backend for the module; each test breaks it and puts it back."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import Settings, load_settings
from ordersync.dates import parse_vtex_datetime
from ordersync.errors import ConfigError, NotFoundError
from ordersync.facade import Ordersync
from ordersync.observe.verify import CHECKS, CheckResult, VerifyReport
from ordersync.outcomes import CheckStatus
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import RunningSimulator, start_in_thread
from ordersync.sync import reconcile
from support.cli import ordersync
from support.sim import register, settings_for

PASS, WARN, FAIL, SKIP = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.SKIP

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

DAYS = 3
AUDIT = ["latest_versions", "revenue_daily", "full_refresh"]


@dataclass
class World:
    sim: RunningSimulator
    app: Ordersync
    settings: Settings
    url: str
    tmp: Path
    tenant_id: int

    def one(self, report: VerifyReport, check: str, tenant: str | None = None) -> CheckResult:
        found = [c for c in report.checks if c.check == check and (tenant is None or c.tenant == tenant)]
        assert len(found) == 1, report.as_dict()
        return found[0]

    def checked_days(self) -> list[Any]:
        tz = self.app.tenants.get("shop").tz
        end = self.app.clock.now() - timedelta(minutes=self.settings.sync.index_lag_minutes)
        return reconcile.complete_days(end, DAYS, tz)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("verify")
    dbname = None
    if request.param == "duckdb":
        url = str(tmp / "wh.duckdb")
    else:
        server = str(request.getfixturevalue("pg_server_url"))
        dbname = f"ordersync_verify_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{dbname}"')
        url = f"{server.rpartition('/')[0]}/{dbname}"
    config = SimulatorConfig(
        port=0,
        seed=5,
        days=DAYS,
        speed=0.0,
        start=datetime(2025, 3, 10, 15, tzinfo=UTC),
        index_lag_seconds=0,
        accounts=[AccountSpec("shop", 20), AccountSpec("other", 20)],
    )
    try:
        with start_in_thread(config) as sim:
            clock = ManualClock(sim.clock())
            settings = settings_for(url, tmp)
            with Ordersync(settings, clock=clock) as app:
                register(app, sim, ["shop"], config.app_key, config.app_token)
                app.add_tenant(
                    "app", account=None, base_url=None, app_key_env=None, app_token_env=None, platform="push"
                )
                assert app.sync(build=True).ok
                # time passes: payments, invoices, cancellations land as later versions
                sim.advance(8 * 3600)
                clock.set(sim.clock())
                report = app.sync(build=True)
                assert report.ok, report.build_error
                yield World(sim, app, settings, url, tmp, app.tenants.get("shop").tenant_id)
    finally:
        if dbname is not None:
            with psycopg.connect(server, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def test_every_check_passes_on_a_healthy_warehouse(world: World) -> None:
    report = world.app.verify(days=DAYS)
    assert report.ok and report.exit_code == 0, report.as_dict()
    assert [c.check for c in report.checks] == ["dbt_tests", "source", "source", *AUDIT, "lateness", "summaries"]

    dbt = world.one(report, "dbt_tests")
    assert dbt.status == PASS and dbt.figures["tests"] >= 4 and dbt.figures["failed"] == 0

    # the source's figures are the simulator's own truth, day by day in the tenant's zone
    shop = world.one(report, "source", "shop")
    assert shop.status == PASS
    tz = world.app.tenants.get("shop").tz
    days = world.checked_days()
    truth: dict[str, list[int]] = {d.isoformat(): [0, 0] for d in days}
    for o in world.sim.truth("shop"):
        day = parse_vtex_datetime(o["creationDate"]).astimezone(tz).date().isoformat()
        if day in truth:
            truth[day][0] += 1
            truth[day][1] += int(o["value"])
    assert {d["date"]: [d["source_orders"], round(float(d["source_total"]) * 100)] for d in shop.figures["days"]} == (
        truth
    )
    assert all(d["fct_orders"] == d["source_orders"] and d["matches"] for d in shop.figures["days"])
    assert sum(n for n, _ in truth.values()) > 0

    push = world.one(report, "source", "app")
    assert push.status == SKIP and "no source to ask" in push.summary

    latest = world.one(report, "latest_versions")
    landed = world.app.wh.scalar("SELECT count(DISTINCT order_id) FROM cdp.orders_landing")
    assert latest.status == PASS and latest.figures["orders"] == latest.figures["ok"] == landed > 0
    assert world.app.wh.scalar("SELECT count(*) FROM cdp.orders_landing") > landed  # later versions landed

    revenue = world.one(report, "revenue_daily")
    rows = world.app.wh.scalar("SELECT count(*) FROM cdp.revenue_daily")
    assert revenue.status == PASS and revenue.figures["ok"] == rows > 0

    builds = world.one(report, "full_refresh")
    assert builds.status == PASS and builds.figures["builds"] == 2 and builds.figures["full_refreshes"] == 0

    late = world.one(report, "lateness")
    assert late.status == PASS and late.figures["versions"] > 0 and late.figures["over_budget"] == 0


@pytest.mark.parametrize("wrong", [0, -1])
def test_bad_arguments_are_refused(world: World, wrong: int) -> None:
    with pytest.raises(ConfigError, match="days must be at least 1"):
        world.app.verify(days=wrong)
    with pytest.raises(ConfigError, match="unknown check 'nope'; use one of: dbt_tests"):
        world.app.verify(checks=["nope"])
    with pytest.raises(NotFoundError, match="no tenant named 'nobody'"):
        world.app.verify("nobody")


def test_one_tenant_a_push_tenant_is_skipped_and_its_audit_scans_pass(world: World) -> None:
    report = world.app.verify("app", days=DAYS, checks=["source", *AUDIT, "lateness"])
    assert report.ok and report.tenant == "app"
    assert world.one(report, "source").status == SKIP
    assert world.one(report, "latest_versions").figures["orders"] == 0  # nothing of app's landed
    assert world.one(report, "lateness").figures["versions"] == 0


def test_a_failing_dbt_test_fails_the_dbt_check(world: World) -> None:
    wh = world.app.wh
    tenant_id, order_id = wh.query_one(
        "SELECT tenant_id, order_id FROM cdp.fct_orders WHERE built_at = (SELECT max(built_at) FROM cdp.fct_orders) "
        "ORDER BY order_id LIMIT 1"
    ) or (None, None)
    assert order_id is not None
    if wh.dialect == "duckdb":
        # a duplicated key among the latest build's rows (PostgreSQL's unique index refuses one)
        wh.execute(
            "INSERT INTO cdp.fct_orders SELECT * REPLACE (-1 AS landing_id) FROM cdp.fct_orders "
            "WHERE tenant_id = ? AND order_id = ?",
            (tenant_id, order_id),
        )
        undo: tuple[str, tuple[Any, ...]] = ("DELETE FROM cdp.fct_orders WHERE landing_id = -1", ())
        expected = "unique_fct_orders_order_key"
    else:
        wh.execute(
            "UPDATE cdp.fct_orders SET order_key = NULL WHERE tenant_id = ? AND order_id = ?", (tenant_id, order_id)
        )
        undo = (
            "UPDATE cdp.fct_orders SET order_key = CAST(tenant_id AS TEXT) || ':' || order_id "
            "WHERE tenant_id = ? AND order_id = ?",
            (tenant_id, order_id),
        )
        expected = "not_null_fct_orders_order_key"
    try:
        report = world.app.verify(days=DAYS, checks=["dbt_tests", "latest_versions"])
    finally:
        world.app.wh.execute(*undo)
    assert not report.ok and report.exit_code == 1
    dbt = world.one(report, "dbt_tests")
    assert dbt.status == FAIL, dbt.summary
    assert [f["test"] for f in dbt.figures["failing"]] == [expected]
    assert dbt.figures["failing"][0]["rows"] == 1 and dbt.figures["tests"] >= 4
    assert f"{expected} (1 failing row)" in dbt.summary
    latest = world.one(report, "latest_versions")
    if wh.dialect == "duckdb":
        assert latest.status == FAIL and latest.figures["duplicate"] == 1
        assert latest.figures["examples"]["duplicate"] == [f"{tenant_id}:{order_id}"]
    else:
        assert latest.status == PASS  # the key column is the dbt test's business


def test_a_source_that_changed_fails_the_day_by_day_reconciliation(world: World) -> None:
    # the tenant now asks another store: its orders and totals are not the warehouse's
    wh = world.app.wh
    base_url = wh.scalar("SELECT base_url FROM cdp.tenants WHERE tenant_id = ?", (world.tenant_id,))
    wh.execute(
        "UPDATE cdp.tenants SET base_url = ? WHERE tenant_id = ?", (world.sim.base_url("other"), world.tenant_id)
    )
    try:
        report = world.app.verify(days=DAYS, checks=["source", *AUDIT])
    finally:
        world.app.wh.execute("UPDATE cdp.tenants SET base_url = ? WHERE tenant_id = ?", (base_url, world.tenant_id))
    shop = world.one(report, "source", "shop")
    assert shop.status == FAIL and not report.ok
    assert shop.figures["days_differing"] >= 1
    assert shop.figures["source_total"] != shop.figures["fct_total"]
    assert "differ: " in shop.summary
    assert all(world.one(report, c).status == PASS for c in AUDIT)  # the warehouse is consistent in itself


def test_a_source_that_cannot_be_asked_is_an_error_not_a_pass(world: World) -> None:
    wh = world.app.wh
    base_url = wh.scalar("SELECT base_url FROM cdp.tenants WHERE tenant_id = ?", (world.tenant_id,))
    wh.execute(
        "UPDATE cdp.tenants SET base_url = ? WHERE tenant_id = ?", (world.sim.base_url("closed"), world.tenant_id)
    )
    try:
        report = world.app.verify(days=DAYS, checks=["source"])
    finally:
        wh.execute("UPDATE cdp.tenants SET base_url = ? WHERE tenant_id = ?", (base_url, world.tenant_id))
    shop = world.one(report, "source", "shop")
    assert shop.status == "error" and "the source could not be asked" in shop.summary
    assert not report.ok and report.exit_code == 1
    assert world.one(report, "source", "app").status == SKIP


def test_a_deleted_fct_orders_row_fails_reconciliation_latest_versions_and_revenue(world: World) -> None:
    wh = world.app.wh
    day = world.checked_days()[1]
    rows = wh.query_dicts(
        "SELECT * FROM cdp.fct_orders WHERE tenant_id = ? AND order_date = ? AND total_value > 0 "
        "AND status NOT IN ('canceled', 'cancel', 'request-cancel', 'cancellation-requested') "
        "ORDER BY order_id LIMIT 1",
        (world.tenant_id, day),
    )
    assert rows
    row = rows[0]
    wh.execute("DELETE FROM cdp.fct_orders WHERE tenant_id = ? AND order_id = ?", (world.tenant_id, row["order_id"]))
    try:
        report = world.app.verify(days=DAYS, checks=["source", "latest_versions", "revenue_daily"])
    finally:
        columns = list(row)
        world.app.wh.execute(
            f"INSERT INTO cdp.fct_orders ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            tuple(row[c] for c in columns),
        )
    shop = world.one(report, "source", "shop")
    assert shop.status == FAIL
    differing = [d for d in shop.figures["days"] if not d["matches"]]
    assert [d["date"] for d in differing] == [day.isoformat()]
    assert differing[0]["source_orders"] == differing[0]["fct_orders"] + 1
    latest = world.one(report, "latest_versions")
    assert latest.status == FAIL and latest.figures["missing"] == 1
    assert latest.figures["examples"]["missing"] == [f"{world.tenant_id}:{row['order_id']}"]
    revenue = world.one(report, "revenue_daily")
    assert revenue.status == FAIL and revenue.figures["differs"] == 1
    assert revenue.figures["examples"]["differs"][0]["date"] == day.isoformat()


def _two_versions(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest and an older landed version of an order that has several."""
    wh = world.app.wh
    order_id = wh.scalar(
        "SELECT order_id FROM cdp.orders_landing WHERE tenant_id = ? GROUP BY order_id HAVING count(*) >= 2 "
        "ORDER BY order_id LIMIT 1",
        (world.tenant_id,),
    )
    assert order_id is not None
    versions = wh.query_dicts(
        "SELECT landing_id, order_id, payload_hash, event_time, event_ingested_at, status, total_value "
        "FROM cdp.orders_landing WHERE tenant_id = ? AND order_id = ? ORDER BY event_time DESC",
        (world.tenant_id, order_id),
    )
    return versions[0], versions[1]


_VERSION_COLUMNS = ("payload_hash", "event_time", "event_ingested_at", "status", "total_value", "landing_id")


def _set_fct_version(world: World, order_id: str, version: dict[str, Any]) -> None:
    world.app.wh.execute(
        f"UPDATE cdp.fct_orders SET {', '.join(f'{c} = ?' for c in _VERSION_COLUMNS)} "
        "WHERE tenant_id = ? AND order_id = ?",
        (*(version[c] for c in _VERSION_COLUMNS), world.tenant_id, order_id),
    )


def test_a_stale_fct_orders_row_fails_latest_versions(world: World) -> None:
    newest, older = _two_versions(world)
    _set_fct_version(world, newest["order_id"], older)
    try:
        report = world.app.verify(days=DAYS, checks=["latest_versions"])
    finally:
        _set_fct_version(world, newest["order_id"], newest)
    latest = world.one(report, "latest_versions")
    assert latest.status == FAIL and latest.figures["stale"] == 1 and latest.figures["missing"] == 0
    assert latest.figures["examples"]["stale"] == [f"{world.tenant_id}:{newest['order_id']}"]
    assert f"stale e.g. {world.tenant_id}:{newest['order_id']}" in latest.summary


def test_a_version_no_build_has_read_yet_awaits_the_build_until_one_consumed_its_batch(world: World) -> None:
    wh = world.app.wh
    newest, _ = _two_versions(world)
    batch_id = 10**12
    wh.execute(
        "INSERT INTO cdp.landing_batches (batch_id, tenant_id, source, rows, landed_at) VALUES (?, ?, 'test', 1, ?)",
        (batch_id, world.tenant_id, world.app.clock.now()),
    )
    wh.execute(
        "INSERT INTO cdp.orders_landing (tenant_id, order_id, event_time, event_ingested_at, order_date, "
        "creation_date, status, total_value, currency_code, sales_channel, customer_id, customer_email, "
        "customer_name, payload, payload_hash, source, run_id, batch_id) "
        "SELECT tenant_id, order_id, event_time + INTERVAL '1 minute', event_ingested_at + INTERVAL '1 minute', "
        "order_date, creation_date, status, total_value, currency_code, sales_channel, customer_id, "
        "customer_email, customer_name, payload, 'verify-newer-version', source, run_id, ? "
        "FROM cdp.orders_landing WHERE landing_id = ?",
        (batch_id, newest["landing_id"]),
    )
    cursor = wh.scalar("SELECT seq FROM cdp.ledger_cursors WHERE consumer = 'fct_orders'")
    try:
        waiting = world.app.verify(days=DAYS, checks=["latest_versions"])
        # as if a build had consumed the batch and still left the order as it was
        wh.execute("UPDATE cdp.landing_batches SET seq = ? WHERE batch_id = ?", (10**12, batch_id))
        wh.execute("UPDATE cdp.ledger_cursors SET seq = ? WHERE consumer = 'fct_orders'", (10**12,))
        consumed = world.app.verify(days=DAYS, checks=["latest_versions"])
    finally:
        wh.execute("UPDATE cdp.ledger_cursors SET seq = ? WHERE consumer = 'fct_orders'", (cursor,))
        wh.execute("DELETE FROM cdp.orders_landing WHERE batch_id = ?", (batch_id,))
        wh.execute("DELETE FROM cdp.landing_batches WHERE batch_id = ?", (batch_id,))
    check = world.one(waiting, "latest_versions")
    assert check.status == PASS and check.figures["awaiting_build"] == 1 and "1 awaiting build" in check.summary
    check = world.one(consumed, "latest_versions")
    assert check.status == FAIL and check.figures["stale"] == 1 and check.figures["awaiting_build"] == 0


def test_a_tampered_revenue_daily_row_fails_the_revenue_check(world: World) -> None:
    wh = world.app.wh
    key = wh.query_one(
        "SELECT tenant_id, order_date, currency_code FROM cdp.revenue_daily WHERE valid_orders > 0 "
        "ORDER BY order_date LIMIT 1"
    )
    assert key is not None
    where = "WHERE tenant_id = ? AND order_date = ? AND currency_code = ?"
    wh.execute(f"UPDATE cdp.revenue_daily SET revenue = revenue + 1 {where}", key)
    try:
        report = world.app.verify(days=DAYS, checks=["revenue_daily"])
    finally:
        world.app.wh.execute(f"UPDATE cdp.revenue_daily SET revenue = revenue - 1 {where}", key)
    revenue = world.one(report, "revenue_daily")
    assert revenue.status == FAIL and revenue.figures["differs"] == 1 and revenue.figures["missing"] == 0
    example = revenue.figures["examples"]["differs"][0]
    assert example["date"] == key[1].isoformat() and example["currency"] == key[2]
    built, recomputed = example["revenue_daily"].split(), example["recomputed"].split()
    assert float(built[-1]) == pytest.approx(float(recomputed[-1]) + 1)


def test_verify_judges_by_the_orders_and_budget_settings(world: World) -> None:
    wh = world.app.wh
    assert (wh.scalar("SELECT sum(pending_orders) FROM cdp.revenue_daily") or 0) > 0
    late = world.app.verify(days=DAYS, checks=["lateness"]).checks[0]
    assert late.figures["late_over_1h"] > 0
    world.app.close()  # DuckDB: one configuration per file
    settings = load_settings(
        overrides={
            "warehouse": {"url": world.url},
            "dbt": {"state_dir": str(world.tmp / "dbt")},
            "orders": {"pending_statuses": []},
            "sync": {"lateness_budget_days": 0.01},
        }
    )
    with Ordersync(settings, clock=ManualClock(world.app.clock.now())) as other:
        report = other.verify(days=DAYS, checks=["revenue_daily", "lateness"])
    revenue = world.one(report, "revenue_daily")
    assert revenue.status == FAIL and revenue.figures["differs"] > 0
    assert "restate the days with a plan" in revenue.summary
    lateness = world.one(report, "lateness")
    # over the budget: a warning with its figures, not a failure (nothing was dropped)
    assert lateness.status == WARN and lateness.figures["over_budget"] > 0
    assert "landed and built, never dropped" in lateness.summary


def test_a_full_refresh_in_the_build_log_fails_the_check(world: World) -> None:
    wh = world.app.wh
    build_id = 10**9
    wh.execute(
        "INSERT INTO cdp.build_runs (build_id, command, flags, status, started_at, trigger) "
        "VALUES (?, 'build', ?, 'failed', ?, 'cli')",
        (build_id, json.dumps({"full_refresh": True, "lookback_days": 3}), world.app.clock.now()),
    )
    try:
        report = world.app.verify(days=DAYS, checks=["full_refresh"])
    finally:
        world.app.wh.execute("DELETE FROM cdp.build_runs WHERE build_id = ?", (build_id,))
    check = world.one(report, "full_refresh")
    assert check.status == FAIL and check.figures["full_refreshes"] == 1 and check.figures["builds"] == 3
    assert check.figures["examples"][0]["build_id"] == build_id
    assert f"build {build_id} failed at" in check.summary


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    world.app.close()  # DuckDB: the command opens the file itself
    env = {
        "ORDERSYNC_WAREHOUSE": world.url,
        "ORDERSYNC__DBT__STATE_DIR": str(world.tmp / "dbt"),
        "ORDERSYNC__CLOCK": world.app.clock.now().isoformat(),
    }
    return ordersync(["verify", *args], world.tmp, env=env, columns=200)


def test_the_command_exits_zero_when_every_check_passes_and_non_zero_on_a_failure(world: World) -> None:
    done = _cli(world, "--days", str(DAYS))
    assert done.returncode == 0, done.stdout + done.stderr
    for check in CHECKS:
        assert check in done.stdout
    assert "every check passed" in done.stdout and "no source to ask" in done.stdout

    world.app.wh.execute(
        "INSERT INTO cdp.build_runs (build_id, command, flags, status, started_at, trigger) "
        "VALUES (?, 'build', ?, 'succeeded', ?, 'cli')",
        (10**9 + 1, json.dumps({"full_refresh": True}), world.app.clock.now()),
    )
    try:
        failed = _cli(world, "--json", "--check", "full_refresh", "--check", "source", "--tenant", "shop")
    finally:
        world.app.wh.execute("DELETE FROM cdp.build_runs WHERE build_id = ?", (10**9 + 1,))
    assert failed.returncode == 1, failed.stderr
    doc = json.loads(failed.stdout)
    assert doc["ok"] is False and doc["tenant"] == "shop" and doc["days"] == 14
    assert [(c["check"], c["status"]) for c in doc["checks"]] == [("source", "pass"), ("full_refresh", "fail")]
    assert doc["checks"][0]["figures"]["days_differing"] == 0

    bad = _cli(world, "--check", "nope")
    assert bad.returncode == 2 and "unknown check 'nope'" in bad.stderr
