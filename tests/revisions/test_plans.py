"""Backfill and restatement plans on both warehouses, against the simulator: a 14-day backfill is
drafted without changing anything, says per day what it will do, applies once with the result it
said, and applying it again changes nothing; a plan whose orders changed since it was drafted is
refused as stale (a change to another order is not); production's review rules; a restatement
after an [orders] settings change; a push tenant has no source to ask."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordersync.clock import ManualClock
from ordersync.config import Settings, load_settings
from ordersync.dates import parse_vtex_datetime
from ordersync.errors import RefusedError, StalePlanError
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from support.cli import ordersync
from support.sim import register, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.dbt]
START = datetime(2025, 3, 20, 15, tzinfo=UTC)


@dataclass
class World:
    sim: Any
    app: Ordersync
    clock: ManualClock
    settings: Settings
    url: str
    tmp: Path
    key: str
    token: str


@pytest.fixture
def world(warehouse_url: str, tmp_path: Path) -> Iterator[World]:
    url = warehouse_url
    config = SimulatorConfig(
        port=0,
        seed=11,
        days=18,
        speed=0.0,
        start=START,
        index_lag_seconds=0,
        accounts=[AccountSpec("shop", 12)],
    )
    with start_in_thread(config) as sim:
        clock = ManualClock(sim.clock())
        settings = settings_for(url, tmp_path)
        with Ordersync(settings, clock=clock) as app:
            register(app, sim, ["shop"], config.app_key, config.app_token)
            assert app.sync(build=True).ok
            yield World(sim, app, clock, settings, url, tmp_path, config.app_key, config.app_token)


def later(world: World, hours: float) -> None:
    """Time passes at the store without a sync: payments, invoices and cancellations happen."""
    world.sim.advance(hours * 3600)
    world.clock.set(world.sim.clock())


def fct(app: Ordersync) -> dict[str, tuple[str, Decimal, str]]:
    rows = app.wh.query("SELECT order_id, status, total_value, payload_hash FROM cdp.fct_orders")
    return {r[0]: (r[1], Decimal(r[2]), r[3]) for r in rows}


def revenue_rows(app: Ordersync) -> set[tuple[Any, ...]]:
    return set(app.wh.query("SELECT tenant_id, order_date, currency_code, orders, revenue FROM cdp.revenue_daily"))


def truth(world: World, first: date, last: date) -> dict[str, tuple[str, Decimal]]:
    out = {}
    tz = world.app.tenants.get("shop").tz
    for o in world.sim.truth("shop"):
        created = parse_vtex_datetime(o["creationDate"])
        if first <= created.astimezone(tz).date() <= last:
            out[o["orderId"]] = (o["status"], Decimal(o["value"]) / 100)
    return out


def test_a_backfill_is_drafted_reviewed_applied_once_and_converges(world: World) -> None:
    app = world.app
    later(world, 30)
    last = world.clock.now().astimezone(app.tenants.get("shop").tz).date() - timedelta(days=1)
    first = last - timedelta(days=13)
    held, revenue = fct(app), revenue_rows(app)
    landed = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")

    plan = app.plans.draft([app.tenants.get("shop")], first, last, author="ana")
    # drafting changed nothing
    assert (fct(app), revenue_rows(app), app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")) == (
        held,
        revenue,
        landed,
    )
    body = plan.body
    assert plan.status == "drafted" and plan.author == "ana" and len(body["days"]) == 14
    totals = body["totals"]
    assert totals["versions_to_land"] > 0 and totals["rows_updated"] > 0
    day = body["days"][0]
    assert {"source_orders", "source_total", "warehouse_orders", "warehouse_total", "revenue_before"} <= day.keys()
    assert sum(d["source_orders"] for d in body["days"]) == len(truth(world, first, last))
    # it reads as Markdown and JSON, and a second draft is another plan
    assert plan.plan_id in app.plans.store.get(plan.plan_id).document()["plan_id"]
    again = app.plans.draft([app.tenants.get("shop")], first, last, author="ana")
    assert again.plan_id != plan.plan_id and again.body["totals"] == totals

    outcome = app.plans.apply(plan.plan_id, by="ana")  # development: no review needed
    assert outcome.applied and outcome.build_error is None, outcome
    assert outcome.matches_plan, outcome.mismatches
    assert outcome.versions_landed == totals["versions_to_land"]
    want = truth(world, first, last)
    now = fct(app)
    assert {k: (s, v) for k, (s, v, _) in now.items() if k in want} == want
    after = revenue_rows(app)

    # applying it again changes nothing; the second draft is now stale (its orders changed)
    assert not app.plans.apply(plan.plan_id).applied
    assert (fct(app), revenue_rows(app)) == (now, after)
    with pytest.raises(StalePlanError, match="draft it again"):
        app.plans.apply(again.plan_id)
    # a fresh draft finds nothing left to do
    third = app.plans.draft([app.tenants.get("shop")], first, last, author="ana")
    assert third.body["totals"]["versions_to_land"] == 0 and third.body["totals"]["rows_updated"] == 0
    # the build log holds no full refresh, and apply built through the plan trigger
    flags = [json.loads(f) for (f,) in app.wh.query("SELECT flags FROM cdp.build_runs")]
    assert not any(f["full_refresh"] for f in flags)


def test_a_change_to_another_order_does_not_make_a_plan_stale(world: World) -> None:
    app = world.app
    later(world, 30)
    last = world.clock.now().astimezone(app.tenants.get("shop").tz).date() - timedelta(days=1)
    first = last - timedelta(days=3)
    plan = app.plans.draft([app.tenants.get("shop")], first, last, author="ana")
    touched = {c["order_id"] for c in plan.body["orders"]}
    assert touched
    outside = next(o for o in app.wh.query("SELECT order_id FROM cdp.fct_orders") if o[0] not in touched)[0]
    headers = {"X-VTEX-API-AppKey": world.key, "X-VTEX-API-AppToken": world.token}
    body = httpx.get(f"{world.sim.base_url('shop')}/api/oms/pvt/orders/{outside}", headers=headers).json()
    body["lastChange"] = "2099-01-01T00:00:00.0000000+00:00"
    body["status"] = "invoiced"
    assert app.land_records("shop", [json.dumps(body)], source="file").landed == 1
    outcome = app.plans.apply(plan.plan_id)
    assert outcome.applied and outcome.matches_plan, outcome.mismatches
    # the other order's newer version is built too (the build read the ledger), never reverted
    assert fct(app)[outside][0] == "invoiced"


def test_production_applies_only_plans_approved_by_someone_else(world: World, tmp_path: Path) -> None:
    prod_settings = load_settings(
        overrides={
            **world.settings.model_dump(mode="json", exclude={"warehouse"}),
            "warehouse": {"url": world.url},
            "environment": {"name": "production"},
        }
    )
    world.app.close()
    with Ordersync(prod_settings, clock=world.clock) as prod:
        shop = prod.tenants.get("shop")
        last = world.clock.now().date() - timedelta(days=1)
        with pytest.raises(RefusedError, match="--by"):
            prod.plans.draft([shop], last, last, author=None)
        plan = prod.plans.draft([shop], last, last, author="ana")
        with pytest.raises(RefusedError, match="not approved"):
            prod.plans.apply(plan.plan_id)
        with pytest.raises(RefusedError, match="someone else"):
            prod.plans.approve(plan.plan_id, "Ana ")
        approved = prod.plans.approve(plan.plan_id, "bruno")
        assert approved.status == "approved" and approved.reviewed_by == "bruno"
        assert prod.plans.apply(plan.plan_id, by="bruno").applied
        rejected = prod.plans.draft([shop], last, last, author="ana")
        prod.plans.reject(rejected.plan_id, "bruno")
        with pytest.raises(RefusedError, match="rejected"):
            prod.plans.apply(rejected.plan_id)
        with pytest.raises(RefusedError, match="refused in production"):
            prod.build(full_refresh=True)


def test_a_restatement_recomputes_the_days_after_a_settings_change(world: World) -> None:
    app = world.app
    tz = app.tenants.get("shop").tz
    last = world.clock.now().astimezone(tz).date() - timedelta(days=1)
    first = last - timedelta(days=13)
    before = app.revenue("shop", first, last)
    # from now on invoiced orders do not count (a settings change): a restatement applies it to the past
    strict = load_settings(
        overrides={
            **world.settings.model_dump(mode="json", exclude={"warehouse"}),
            "warehouse": {"url": world.url},
            "orders": {"invalid_statuses": ["canceled", "invoiced"]},
        }
    )
    world.app.close()
    with Ordersync(strict, clock=world.clock) as restating:
        plan = restating.plans.draft([restating.tenants.get("shop")], first, last, author="ana", restate=True)
        assert plan.kind == "restate" and plan.body["totals"]["versions_to_land"] == 0
        revised = [d for d in plan.body["days"] if d["revenue_before"] != d["revenue_after"]]
        assert revised, "the fixture has invoiced orders"
        outcome = restating.plans.apply(plan.plan_id)
        assert outcome.applied and outcome.matches_plan, outcome.mismatches
        after = restating.revenue("shop", first, last)
        assert after.days != before.days
        assert after.days == restating.revenue("shop", first, last, as_of=world.clock.now()).days
        # nothing waits for the next build any more
        assert restating.wh.scalar("SELECT count(*) FROM cdp.pending_restatements") == 0


def test_a_push_tenant_has_no_source_to_ask(world: World) -> None:
    app = world.app
    app.add_tenant("pushed", account=None, base_url=None, app_key_env=None, app_token_env=None, platform="push")
    day = world.clock.now().date() - timedelta(days=1)
    plan = app.plans.draft([app.tenants.get("pushed")], day, day, author="ana")
    assert any("no source to ask" in n for n in plan.body["notes"])
    assert plan.body["days"] == []


def test_a_newer_version_landing_during_apply_is_never_reverted(world: World) -> None:
    app = world.app
    later(world, 30)
    last = world.clock.now().astimezone(app.tenants.get("shop").tz).date() - timedelta(days=1)
    plan = app.plans.draft([app.tenants.get("shop")], last - timedelta(days=3), last, author="ana")
    target = plan.body["orders"][0]["order_id"]
    headers = {"X-VTEX-API-AppKey": world.key, "X-VTEX-API-AppToken": world.token}
    body = httpx.get(f"{world.sim.base_url('shop')}/api/oms/pvt/orders/{target}", headers=headers).json()
    body.update(lastChange="2099-01-01T00:00:00.0000000+00:00", status="canceled")
    desk = app.plans
    build = desk._build

    def land_then_build() -> object:  # the newer version commits after apply's transaction, before its build
        assert app.land_records("shop", [json.dumps(body)], source="file").landed == 1
        return build()

    desk._build = land_then_build
    outcome = desk.apply(plan.plan_id)
    assert outcome.applied and outcome.build_error is None
    assert fct(app)[target][0] == "canceled"  # the newer version, not the plan's
    assert any(target in m for m in outcome.mismatches)  # and apply says where the result differs from the plan


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    world.app.close()  # DuckDB: the command opens the file itself
    env = {
        "ORDERSYNC_WAREHOUSE": world.url,
        "ORDERSYNC__DBT__STATE_DIR": str(world.tmp / "dbt"),
        "ORDERSYNC__CLOCK": world.clock.now().isoformat(),
    }
    return ordersync(args, world.tmp, env=env, columns=200)


@pytest.mark.slow  # fourteen CLI processes
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)
def test_the_commands_draft_show_review_apply_and_answer_revenue(world: World) -> None:
    later(world, 30)
    drafted = _cli(world, "backfill", "plan", "--tenant", "shop", "--days", "5", "--by", "ana", "--json")
    assert drafted.returncode == 0, drafted.stderr
    plan_id = json.loads(drafted.stdout)["plan_id"]
    shown = _cli(world, "plan", "show", plan_id)
    assert shown.returncode == 0 and f"# Plan {plan_id}" in shown.stdout and "| tenant | day |" in shown.stdout
    listed = json.loads(_cli(world, "plan", "list", "--json").stdout)
    assert [p["plan_id"] for p in listed] == [plan_id] and listed[0]["status"] == "drafted"
    assert _cli(world, "plan", "approve", plan_id, "--by", "bruno").returncode == 0
    applied = _cli(world, "plan", "apply", plan_id, "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["matches_plan"] is True
    again = _cli(world, "plan", "apply", plan_id)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    missing = _cli(world, "plan", "show", "p-000000000000")
    assert missing.returncode == 3 and "plan list" in missing.stderr + missing.stdout

    answer = json.loads(_cli(world, "revenue", "--tenant", "shop", "--json").stdout)
    assert answer["as_of"] and answer["days"]
    exact = json.loads(_cli(world, "revenue", "--tenant", "shop", "--as-of", answer["as_of"], "--json").stdout)
    assert exact == answer
    csv_out = _cli(world, "revenue", "--tenant", "shop", "--csv").stdout.splitlines()
    assert (
        csv_out[0].startswith("tenant,date,currency,orders,valid_orders,revenue")
        and len(csv_out) == len(answer["days"]) + 1
    )
    diff = _cli(world, "revenue", "diff", "--tenant", "shop", "--as-of", answer["as_of"], "--json")
    assert diff.returncode == 0 and json.loads(diff.stdout) == []
    bad = _cli(world, "revenue", "--as-of", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr + bad.stdout
