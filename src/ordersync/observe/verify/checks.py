"""The checks that ask something outside the warehouse's tables: dbt's tests, the source, lateness.

dbt_tests  `dbt test` on the models (the unique / not_null tests on the order key, ...)
source     per pull tenant and each of the last N complete days: the source's order count and
           total against fct_orders' (push tenants: skipped, no source to ask)
lateness   late versions and those over the lateness budget (a warning, never a failure: they
           are landed and built like any other, nothing is dropped for being late)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ordersync.aio import run_async
from ordersync.config import Settings
from ordersync.errors import OrdersyncError, TransformError
from ordersync.land import ledger
from ordersync.observe.gaps import NO_SOURCE
from ordersync.observe.lateness import tenant_lateness
from ordersync.observe.verify.results import EXAMPLES, NOT_BUILT, CheckResult, Context
from ordersync.outcomes import CheckStatus
from ordersync.sources.vtex.client import client_for
from ordersync.sync import reconcile
from ordersync.tenants import Tenant
from ordersync.transform import run_dbt
from ordersync.transform.buildvars import build_vars
from ordersync.warehouse import Warehouse


# -- 1. dbt tests -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TestOutcome:
    name: str
    status: str
    failures: int | None
    message: str | None


def dbt_tests(ctx: Context) -> CheckResult:
    """`dbt test` with the vars a build passes (the [orders] settings, the ledger range at the
    cursor: nothing to read), against the same state folder and project as `ordersync build`."""

    wh = ctx.warehouse()
    if not wh.has_table("fct_orders"):
        return CheckResult("dbt_tests", CheckStatus.FAIL, f"fct_orders is {NOT_BUILT}")
    cursor = ledger.cursor(wh, ledger.FCT_ORDERS)
    dbt_vars = build_vars(wh, ctx.settings, ctx.now, cursor, cursor, [])
    target = wh.dbt_target()
    state_dir = Path(ctx.settings.dbt.state_dir)
    if not wh.concurrent_writers:
        # a reading command's connection is read-only, so dbt cannot join its instance: dbt has
        # the file to itself, with DuckDB's default configuration
        ctx.release()
        target.pop("config_options", None)
    started = datetime.now(UTC)
    error: str | None = None
    try:
        result = run_dbt(
            target,
            "test",
            state_dir=state_dir,
            lookback_days=ctx.settings.dbt.lookback_days,
            extra_vars=dbt_vars,
            project_dir=ctx.project_dir,
        )
        outcomes = [
            _TestOutcome(n.name, n.status, n.failures, n.message) for n in result.nodes if _is_test(n.resource_type)
        ]
    except TransformError as exc:
        error = str(exc)
        read = _run_results(state_dir, started)
        if read is None:
            return CheckResult(
                "dbt_tests", CheckStatus.ERROR, f"dbt test could not run: {error}", figures={"error": error}
            )
        outcomes = read
    return _dbt_summary(outcomes, error)


def _is_test(resource_type: str) -> bool:
    return resource_type in ("test", "unit_test")


def _dbt_summary(outcomes: list[_TestOutcome], error: str | None) -> CheckResult:
    failed = [o for o in outcomes if o.status in ("fail", "error")]
    warned = [o for o in outcomes if o.status == "warn"]
    figures: dict[str, Any] = {
        "tests": len(outcomes),
        "passed": sum(1 for o in outcomes if o.status == "pass"),
        "failed": len(failed),
        "warned": len(warned),
        "failing": [{"test": o.name, "status": o.status, "rows": o.failures, "message": o.message} for o in failed],
    }
    summary = f"{len(outcomes)} tests, {len(failed)} failed"
    if warned:
        summary += f", {len(warned)} warned"
    if failed:
        summary += ": " + "; ".join(
            f"{o.name} ({o.failures} failing row{'' if o.failures == 1 else 's'})"
            if o.failures is not None and o.status == "fail"
            else f"{o.name} ({o.status})"
            for o in failed
        )
        return CheckResult("dbt_tests", CheckStatus.FAIL, summary, figures=figures)
    if error is not None and not warned:
        # dbt said it failed and no test did: something else went wrong (it says what)
        figures["error"] = error
        return CheckResult("dbt_tests", CheckStatus.ERROR, f"{summary}; dbt test failed: {error}", figures=figures)
    if not outcomes:
        return CheckResult("dbt_tests", CheckStatus.FAIL, "no dbt tests ran: the project defines none", figures=figures)
    return CheckResult("dbt_tests", CheckStatus.WARN if warned else CheckStatus.PASS, summary, figures=figures)


def _run_results(state_dir: Path, started: datetime) -> list[_TestOutcome] | None:
    """The tests of the `dbt test` that just ran, from dbt's run_results.json (run_dbt raises
    without them when a test fails); None when the file is not this invocation's."""
    path = state_dir.resolve() / "target" / "run_results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        generated = datetime.fromisoformat(str(doc["metadata"]["generated_at"]).replace("Z", "+00:00"))
        if generated.tzinfo is None:
            generated = generated.replace(tzinfo=UTC)
        if doc.get("args", {}).get("which") != "test" or generated < started - timedelta(seconds=1):
            return None
        out: list[_TestOutcome] = []
        for r in doc["results"]:
            unique_id = str(r["unique_id"])
            if not _is_test(unique_id.split(".", 1)[0]):
                continue
            failures = r.get("failures")
            name = unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id
            out.append(
                _TestOutcome(name, str(r["status"]), None if failures is None else int(failures), r.get("message"))
            )
        return out
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


# -- 2. source reconciliation -------------------------------------------------------------------------
def source(wh: Warehouse, settings: Settings, tenants: list[Tenant], now: datetime, days: int) -> list[CheckResult]:
    """One result per tenant: each of the last `days` complete days (the tenant's time zone,
    ending the sync's index-lag margin before now) as the source lists it, orders created that day
    in every status and the sum of their totalValue (cents, as a currency amount), against
    fct_orders' count and sum(total_value) of the orders with that order_date."""

    built = wh.has_table("fct_orders")
    asked: list[tuple[Tenant, list[date], dict[date, reconcile.DayTotals]]] = []
    results: dict[int, CheckResult] = {}
    for t in tenants:
        if not t.pulls:
            results[t.tenant_id] = CheckResult("source", CheckStatus.SKIP, NO_SOURCE, tenant=t.tenant_name)
        elif not (t.sync_enabled and t.is_active):
            results[t.tenant_id] = CheckResult(
                "source",
                CheckStatus.SKIP,
                "sync is disabled for this tenant: its warehouse figures are not kept current",
                tenant=t.tenant_name,
            )
        elif not built:
            results[t.tenant_id] = CheckResult(
                "source", CheckStatus.FAIL, f"fct_orders is {NOT_BUILT}", tenant=t.tenant_name
            )
        else:
            day_list = reconcile.last_complete_days(now, days, t.tz, settings.sync.index_lag_minutes)
            asked.append((t, day_list, reconcile.built_days(wh, t.tenant_id, day_list[0], day_list[-1])))
    if asked:
        answers = run_async(_ask_sources(settings, [(t, d) for t, d, _ in asked]))
        for (t, day_list, held), answer in zip(asked, answers, strict=True):
            results[t.tenant_id] = _source_result(t, day_list, held, answer)
    return [results[t.tenant_id] for t in tenants]


async def _ask_sources(
    settings: Settings, asks: list[tuple[Tenant, list[date]]]
) -> list[dict[date, reconcile.DayTotals] | Exception]:
    async def one(t: Tenant, day_list: list[date]) -> dict[date, reconcile.DayTotals] | Exception:
        try:
            async with client_for(t, settings.sync) as client:
                return await reconcile.source_days(client, t.tz, day_list)
        except OrdersyncError as exc:
            return exc

    return list(await asyncio.gather(*(one(t, d) for t, d in asks)))


def _source_result(
    t: Tenant,
    day_list: list[date],
    held: dict[date, reconcile.DayTotals],
    answer: dict[date, reconcile.DayTotals] | Exception,
) -> CheckResult:
    span = f"{len(day_list)} days {day_list[0].isoformat()}..{day_list[-1].isoformat()}"
    if isinstance(answer, Exception):
        return CheckResult(
            "source",
            CheckStatus.ERROR,
            f"{span}: the source could not be asked: {answer}",
            tenant=t.tenant_name,
            figures={"error": str(answer)},
        )
    compared = reconcile.compare(answer, held)
    differ = [c for c in compared if not c.matches]
    src_orders, src_total = sum(c.source.orders for c in compared), sum((c.source.total for c in compared), Decimal(0))
    wh_orders, wh_total = (
        sum(c.warehouse.orders for c in compared),
        sum((c.warehouse.total for c in compared), Decimal(0)),
    )
    figures = {
        "days": [
            {
                "date": c.day.isoformat(),
                "source_orders": c.source.orders,
                "source_total": str(c.source.total),
                "fct_orders": c.warehouse.orders,
                "fct_total": str(c.warehouse.total),
                "matches": c.matches,
            }
            for c in compared
        ],
        "source_orders": src_orders,
        "source_total": str(src_total),
        "fct_orders": wh_orders,
        "fct_total": str(wh_total),
        "days_differing": len(differ),
    }
    summary = f"{span}: source {src_orders} orders {src_total}, fct_orders {wh_orders} orders {wh_total}"
    if not differ:
        return CheckResult(
            "source", CheckStatus.PASS, f"{summary}; every day matches", tenant=t.tenant_name, figures=figures
        )
    shown = "; ".join(
        f"{c.day.isoformat()} source {c.source.orders}/{c.source.total} "
        f"fct_orders {c.warehouse.orders}/{c.warehouse.total}"
        for c in differ[:EXAMPLES]
    )
    more = f" (+{len(differ) - EXAMPLES} more)" if len(differ) > EXAMPLES else ""
    return CheckResult(
        "source",
        CheckStatus.FAIL,
        f"{summary}; {len(differ)} day{'s' if len(differ) > 1 else ''} differ: {shown}{more}",
        tenant=t.tenant_name,
        figures=figures,
    )


# -- 6. lateness --------------------------------------------------------------------------------------
def lateness(wh: Warehouse, settings: Settings, tenants: list[Tenant], now: datetime, days: int) -> CheckResult:
    """The lateness report's figures over the last `days` order dates. Versions over the budget only
    warn: they landed and were built like any other, nothing was lost; the figure says how late
    the sources are."""
    lookback, budget = settings.dbt.lookback_days, settings.sync.lateness_budget_days
    rows = tenant_lateness(wh, tenants, now, days=days, lookback_days=lookback, budget_days=budget)
    keys = ("versions", "after_lookback", "over_budget", "clock_skew")
    per_tenant: dict[str, dict[str, int]] = {}
    for r in rows:
        mine = per_tenant.setdefault(r["tenant"], dict.fromkeys(keys, 0))
        for k in keys:
            mine[k] += int(r[k])
    total = {k: sum(t[k] for t in per_tenant.values()) for k in keys}
    late = sum(int(r["versions"]) - int(r["buckets"]["upto_1h"]) for r in rows)
    max_seconds = max((float(r["max_lateness_seconds"]) for r in rows), default=0.0)
    figures: dict[str, Any] = {
        **total,
        "late_over_1h": late,
        "max_lateness_hours": round(max_seconds / 3600, 2),
        "lookback_days": lookback,
        "lateness_budget_days": budget,
        "tenants": per_tenant,
    }
    summary = (
        f"last {days} order dates: {total['versions']} versions, {late} landed over 1 h late, "
        f"{total['after_lookback']} after the {lookback:g}-day lookback, {total['over_budget']} over the "
        f"{budget:g}-day budget (max {figures['max_lateness_hours']:g} h)"
    )
    if total["over_budget"]:
        worst = sorted(per_tenant.items(), key=lambda kv: -kv[1]["over_budget"])
        named = ", ".join(f"{name} {f['over_budget']}" for name, f in worst if f["over_budget"])
        return CheckResult(
            "lateness", CheckStatus.WARN, f"{summary}: {named}; landed and built, never dropped", figures=figures
        )
    return CheckResult("lateness", CheckStatus.PASS, summary, figures=figures)
