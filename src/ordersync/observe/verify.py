"""`verify`: the seed's verification as one command, one result per check with its figures.

    dbt_tests        `dbt test` on the models (the unique / not_null tests on the order key, ...)
    source           per pull tenant and each of the last N complete days: the source's order count
                     and total against fct_orders' (push tenants: skipped, no source to ask)
    latest_versions  fct_orders holds the latest landed version of every order (a full audit scan)
    revenue_daily    revenue_daily equals a recomputation from fct_orders (a full audit scan)
    full_refresh     no build in cdp.build_runs ever ran with a full refresh
    lateness         late versions and those over the lateness budget (a warning, never a failure:
                     they are landed and built like any other, nothing is dropped for being late)

A check passes, warns, fails, errs (it could not be completed: the source did not answer, dbt did
not start) or is skipped with its reason (there is nothing to ask). The report is ok when nothing
failed or erred. The audit scans' SQL is in verify_*.sql beside this module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ordersync.aio import run_async
from ordersync.config import Settings
from ordersync.errors import ConfigError, OrdersyncError, TransformError
from ordersync.observe.gaps import NO_SOURCE
from ordersync.sync import reconcile
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

CHECKS: tuple[str, ...] = ("dbt_tests", "source", "latest_versions", "revenue_daily", "full_refresh", "lateness")
PASS, WARN, FAIL, ERROR, SKIP = "pass", "warn", "fail", "error", "skip"
#: Exit status of `ordersync verify` when a check failed or erred.
FAILED_EXIT = 1
#: Example ids and days shown per kind of finding.
EXAMPLES = 5

_CENT = Decimal("0.01")
_NOT_BUILT = "not built yet: run `ordersync build`"


@dataclass
class CheckResult:
    check: str
    status: str
    #: one line: the figures, and what failed
    summary: str
    tenant: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "tenant": self.tenant,
            "status": self.status,
            "summary": self.summary,
            "figures": self.figures,
        }


@dataclass
class VerifyReport:
    checks: list[CheckResult]
    days: int
    tenant: str | None
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return all(c.status not in (FAIL, ERROR) for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else FAILED_EXIT

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in (FAIL, ERROR)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "days": self.days,
            "tenant": self.tenant,
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class Context:
    """What the checks need from the facade."""

    #: the facade's open warehouse (opened again after `release`)
    warehouse: Callable[[], Warehouse]
    #: closes every connection the facade holds: DuckDB's dbt must be alone with the file
    release: Callable[[], None]
    settings: Settings
    now: datetime
    project_dir: Path | None


def parse_checks(names: Iterable[str] | None) -> tuple[str, ...]:
    """The checks to run, in their order; every one when `names` is empty."""
    chosen = [n.strip() for n in names or () if n.strip()]
    unknown = [n for n in chosen if n not in CHECKS]
    if unknown:
        raise ConfigError(f"unknown check {', '.join(map(repr, unknown))}; use one of: {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if not chosen or c in chosen)


def run(
    ctx: Context,
    tenants: list[Tenant],
    *,
    days: int,
    tenant_name: str | None = None,
    checks: Sequence[str] | None = None,
) -> VerifyReport:
    """Run the checks (all of them by default) over `tenants`; results in CHECKS order.

    dbt runs first (on DuckDB the facade's connection is closed around it). The warehouse's own
    checks then run under the build lock (PostgreSQL): a build committing fct_orders between them
    would leave revenue_daily one model behind for a moment, which is not a fault. The source is
    asked last, outside the lock, so builds never wait on a store's answers."""
    from ordersync.transform.buildvars import serialized_builds

    if days < 1:
        raise ConfigError(f"days must be at least 1 (got {days})")
    wanted = parse_checks(checks)
    tenant_id = tenants[0].tenant_id if tenant_name and tenants else None
    results: dict[str, list[CheckResult]] = {}
    wh = ctx.warehouse()
    with serialized_builds(wh):
        if "dbt_tests" in wanted:
            results["dbt_tests"] = [dbt_tests(ctx)]
        wh = ctx.warehouse()
        if "latest_versions" in wanted:
            results["latest_versions"] = [latest_versions(wh, tenant_id)]
        if "revenue_daily" in wanted:
            results["revenue_daily"] = [revenue_daily(wh, ctx.settings, tenant_id)]
        if "full_refresh" in wanted:
            results["full_refresh"] = [full_refresh(wh)]
    if "lateness" in wanted:
        results["lateness"] = [lateness(wh, ctx.settings, tenants, ctx.now, days)]
    if "source" in wanted:
        results["source"] = source(wh, ctx.settings, tenants, ctx.now, days)
    ordered = [r for name in CHECKS for r in results.get(name, [])]
    return VerifyReport(ordered, days, tenant_name, ctx.now)


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
    from ordersync.land import ledger
    from ordersync.transform import run_dbt
    from ordersync.transform.buildvars import build_vars

    wh = ctx.warehouse()
    if not _has_table(wh, "fct_orders"):
        return CheckResult("dbt_tests", FAIL, f"fct_orders is {_NOT_BUILT}")
    cursor = ledger.cursor(wh, ledger.FCT_ORDERS)
    dbt_vars = build_vars(wh, ctx.settings, ctx.now, cursor, cursor, [])
    target = wh.dbt_target()
    state_dir = Path(ctx.settings.dbt.state_dir)
    if not wh.concurrent_writers:
        ctx.release()
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
            return CheckResult("dbt_tests", ERROR, f"dbt test could not run: {error}", figures={"error": error})
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
        return CheckResult("dbt_tests", FAIL, summary, figures=figures)
    if error is not None and not warned:
        # dbt said it failed and no test did: something else went wrong (it says what)
        figures["error"] = error
        return CheckResult("dbt_tests", ERROR, f"{summary}; dbt test failed: {error}", figures=figures)
    if not outcomes:
        return CheckResult("dbt_tests", FAIL, "no dbt tests ran: the project defines none", figures=figures)
    return CheckResult("dbt_tests", WARN if warned else PASS, summary, figures=figures)


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

    end = now - timedelta(minutes=settings.sync.index_lag_minutes)
    built = _has_table(wh, "fct_orders")
    asked: list[tuple[Tenant, list[date], dict[date, reconcile.DayTotals]]] = []
    results: dict[int, CheckResult] = {}
    for t in tenants:
        if not t.pulls:
            results[t.tenant_id] = CheckResult("source", SKIP, NO_SOURCE, tenant=t.tenant_name)
        elif not (t.sync_enabled and t.is_active):
            results[t.tenant_id] = CheckResult(
                "source",
                SKIP,
                "sync is disabled for this tenant: its warehouse figures are not kept current",
                tenant=t.tenant_name,
            )
        elif not built:
            results[t.tenant_id] = CheckResult("source", FAIL, f"fct_orders is {_NOT_BUILT}", tenant=t.tenant_name)
        else:
            day_list = reconcile.complete_days(end, days, t.tz)
            asked.append((t, day_list, _fct_days(wh, t.tenant_id, day_list[0], day_list[-1])))
    if asked:
        answers = run_async(_ask_sources(settings, [(t, d) for t, d, _ in asked]))
        for (t, day_list, held), answer in zip(asked, answers, strict=True):
            results[t.tenant_id] = _source_result(t, day_list, held, answer)
    return [results[t.tenant_id] for t in tenants]


async def _ask_sources(
    settings: Settings, asks: list[tuple[Tenant, list[date]]]
) -> list[dict[date, reconcile.DayTotals] | Exception]:
    from ordersync.sync.engine import client_for

    async def one(t: Tenant, day_list: list[date]) -> dict[date, reconcile.DayTotals] | Exception:
        try:
            async with client_for(t, settings.sync) as client:
                return await reconcile.source_days(client, t.tz, day_list)
        except OrdersyncError as exc:
            return exc

    return list(await asyncio.gather(*(one(t, d) for t, d in asks)))


def _fct_days(wh: Warehouse, tenant_id: int, first: date, last: date) -> dict[date, reconcile.DayTotals]:
    rows = wh.query(
        "SELECT order_date, count(*), coalesce(sum(total_value), 0) FROM cdp.fct_orders "
        "WHERE tenant_id = ? AND order_date BETWEEN ? AND ? GROUP BY order_date",
        (tenant_id, first, last),
    )
    return {_day(d): reconcile.DayTotals(int(n), Decimal(t).quantize(_CENT)) for d, n, t in rows}


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
            ERROR,
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
        return CheckResult("source", PASS, f"{summary}; every day matches", tenant=t.tenant_name, figures=figures)
    shown = "; ".join(
        f"{c.day.isoformat()} source {c.source.orders}/{c.source.total} "
        f"fct_orders {c.warehouse.orders}/{c.warehouse.total}"
        for c in differ[:EXAMPLES]
    )
    more = f" (+{len(differ) - EXAMPLES} more)" if len(differ) > EXAMPLES else ""
    return CheckResult(
        "source",
        FAIL,
        f"{summary}; {len(differ)} day{'s' if len(differ) > 1 else ''} differ: {shown}{more}",
        tenant=t.tenant_name,
        figures=figures,
    )


# -- 3. latest versions -------------------------------------------------------------------------------
_LATEST_FAILING = ("missing", "stale", "differs", "extra", "duplicate")


def latest_versions(wh: Warehouse, tenant_id: int | None) -> CheckResult:
    """fct_orders against the latest landed version of every order (of one tenant, when given):
    verify_latest_versions.sql."""
    from ordersync.land import ledger

    if not _has_table(wh, "fct_orders"):
        return CheckResult("latest_versions", FAIL, f"fct_orders is {_NOT_BUILT}")
    sql = _sql("verify_latest_versions.sql").replace("{byte_order}", _byte_order(wh))
    cursor = ledger.cursor(wh, ledger.FCT_ORDERS)
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for kind, n, tid, order_id in wh.query(sql, (tenant_id, cursor)):
        counts[kind] = int(n)
        examples.setdefault(kind, []).append(f"{tid}:{order_id}")
    figures: dict[str, Any] = {
        "orders": sum(counts.values()),
        **{k: counts.get(k, 0) for k in ("ok", *_LATEST_FAILING, "awaiting_build")},
        "examples": {k: v for k, v in examples.items() if k != "ok"},
    }
    head = (
        f"{figures['orders']} orders: {figures['ok']} latest, {figures['missing']} missing, "
        f"{figures['stale']} stale, {figures['extra']} extra"
    )
    for k in ("differs", "duplicate", "awaiting_build"):
        if figures[k]:
            head += f", {figures[k]} {k.replace('_', ' ')}"
    bad = [k for k in _LATEST_FAILING if figures[k]]
    if not bad:
        return CheckResult("latest_versions", PASS, head, figures=figures)
    shown = "; ".join(f"{k} e.g. {', '.join(examples[k][:3])}" for k in bad)
    return CheckResult("latest_versions", FAIL, f"{head} ({shown})", figures=figures)


# -- 4. revenue_daily ---------------------------------------------------------------------------------
def revenue_daily(wh: Warehouse, settings: Settings, tenant_id: int | None) -> CheckResult:
    """revenue_daily against a recomputation from fct_orders (of one tenant, when given):
    verify_revenue_daily.sql."""
    if not _has_table(wh, "revenue_daily") or not _has_table(wh, "fct_orders"):
        return CheckResult("revenue_daily", FAIL, f"revenue_daily is {_NOT_BUILT}")
    orders = settings.orders
    sql = (
        _sql("verify_revenue_daily.sql")
        .replace("{invalid_statuses}", _placeholders(orders.invalid_statuses))
        .replace("{pending_statuses}", _placeholders(orders.pending_statuses))
        .replace("{average_cents}", _AVERAGE_CENTS[wh.dialect == "postgres"])
    )
    counts: dict[str, int] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    params = (tenant_id, orders.pending_when_no_status, *orders.invalid_statuses, *orders.pending_statuses)
    for row in wh.query_dicts(sql, params):
        kind = str(row["kind"])
        counts[kind] = int(row["days"])
        examples.setdefault(kind, []).append(
            {
                "tenant_id": int(row["tenant_id"]),
                "date": _day(row["order_date"]).isoformat(),
                "currency": row["currency_code"],
                "revenue_daily": _money_pair(row["built_orders"], row["built_revenue"]),
                "recomputed": _money_pair(row["recomputed_orders"], row["recomputed_revenue"]),
            }
        )
    figures: dict[str, Any] = {
        "rows": sum(counts.values()),
        **{k: counts.get(k, 0) for k in ("ok", "missing", "extra", "differs")},
        "examples": {k: v for k, v in examples.items() if k != "ok"},
    }
    head = (
        f"{figures['rows']} tenant-day-currency rows: {figures['ok']} equal, {figures['differs']} differ, "
        f"{figures['missing']} missing, {figures['extra']} extra"
    )
    bad = [k for k in ("differs", "missing", "extra") if figures[k]]
    if not bad:
        return CheckResult("revenue_daily", PASS, head, figures=figures)
    shown = "; ".join(
        f"{e['tenant_id']} {e['date']} {e['currency']}: revenue_daily {e['revenue_daily'] or '-'} "
        f"recomputed {e['recomputed'] or '-'}"
        for k in bad
        for e in examples[k][:3]
    )
    return CheckResult(
        "revenue_daily",
        FAIL,
        f"{head} ({shown}; after an [orders] settings change, restate the days with a plan)",
        figures=figures,
    )


def _money_pair(orders: Any, revenue: Any) -> str | None:
    if orders is None:
        return None
    return f"{int(orders)} orders {Decimal(revenue).quantize(_CENT)}"


def _placeholders(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values) if values else "NULL"


# -- 5. full refreshes --------------------------------------------------------------------------------
def full_refresh(wh: Warehouse) -> CheckResult:
    """Every build in the build log (cdp.build_runs, any status) and its flags: none ran with
    full_refresh true. A flags text that cannot be read fails the check too: it could be one."""
    builds = 0
    refreshed: list[dict[str, Any]] = []
    unreadable: list[int] = []
    for build_id, flags, status, started_at, trigger in wh.query(
        "SELECT build_id, flags, status, started_at, trigger FROM cdp.build_runs ORDER BY build_id"
    ):
        builds += 1
        try:
            parsed = json.loads(flags)
            on = isinstance(parsed, dict) and parsed.get("full_refresh") is True
        except (TypeError, ValueError):
            unreadable.append(int(build_id))
            continue
        if on:
            when = started_at.isoformat() if isinstance(started_at, datetime) else str(started_at)
            refreshed.append({"build_id": int(build_id), "status": status, "started_at": when, "trigger": trigger})
    figures: dict[str, Any] = {
        "builds": builds,
        "full_refreshes": len(refreshed),
        "unreadable_flags": len(unreadable),
        "examples": refreshed[:EXAMPLES],
        "unreadable_examples": unreadable[:EXAMPLES],
    }
    summary = f"{builds} builds logged, {len(refreshed)} with a full refresh"
    if unreadable:
        summary += f", {len(unreadable)} with flags that cannot be read (build {', '.join(map(str, unreadable[:3]))})"
    if refreshed:
        summary += (
            " (" + "; ".join(f"build {r['build_id']} {r['status']} at {r['started_at']}" for r in refreshed[:3]) + ")"
        )
    return CheckResult("full_refresh", FAIL if refreshed or unreadable else PASS, summary, figures=figures)


# -- 6. lateness --------------------------------------------------------------------------------------
def lateness(wh: Warehouse, settings: Settings, tenants: list[Tenant], now: datetime, days: int) -> CheckResult:
    """The lateness report's figures over the last `days` order dates. Versions over the budget only
    warn: they landed and were built like any other, nothing was lost; the figure says how late
    the sources are."""
    from ordersync.observe.lateness import tenant_lateness

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
        return CheckResult("lateness", WARN, f"{summary}: {named}; landed and built, never dropped", figures=figures)
    return CheckResult("lateness", PASS, summary, figures=figures)


# -- helpers ------------------------------------------------------------------------------------------
#: revenue / valid_orders in whole cents, rounded half up, exactly (DuckDB divides decimals as doubles);
#: the same rule as the models' average_money macro (transform/dbt/macros/money.sql).
_AVERAGE_CENTS = {
    True: "div(2 * revenue * 100 + valid_orders, 2 * valid_orders)",
    False: "(2 * CAST(revenue * 100 AS HUGEINT) + valid_orders) // (2 * valid_orders)",
}


@cache
def _sql(name: str) -> str:
    return (resources.files("ordersync.observe") / name).read_text(encoding="utf-8")


def _byte_order(wh: Warehouse) -> str:
    return 'COLLATE "C"' if wh.dialect == "postgres" else ""


def _has_table(wh: Warehouse, name: str) -> bool:
    from ordersync.observe.status import _has_table as has_table

    return has_table(wh, name)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
