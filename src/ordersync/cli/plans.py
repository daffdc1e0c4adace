"""`ordersync backfill plan` and `ordersync plan list | show | approve | reject | apply`."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import FromOpt, JsonOpt, TenantsOpt, ToOpt, WarehouseOpt
from ordersync.cli.output import print_json, print_pages, print_table, say
from ordersync.cli.revenue import parse_day
from ordersync.errors import ConfigError
from ordersync.paging import MAX_LIMIT
from ordersync.reads import Reads
from ordersync.revisions.render import markdown

backfill_app = typer.Typer(help="Backfills and restatements, drafted as plans to review before they apply.")
plan_app = typer.Typer(help="Plans: list, show, approve, reject, apply.")

ByOpt = Annotated[str | None, typer.Option("--by", help="who drafts it (required in production)")]


def _say(text: str) -> None:
    say(text, lines=True)


@backfill_app.command("plan")
@guarded
def backfill_plan(
    tenant: TenantsOpt = None,
    days: Annotated[int | None, typer.Option(min=1, help="the last N complete days (default 14)")] = None,
    day_from: FromOpt = None,
    day_to: ToOpt = None,
    by: ByOpt = None,
    restate: Annotated[
        bool, typer.Option("--restate", help="recompute the days' derived tables only (no source is read)")
    ] = False,
    refetch: Annotated[
        bool, typer.Option("--refetch", help="fetch every order of those days, not only those the list shows changed")
    ] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Draft a plan: read the source for those days and say, per tenant and day, what applying it
    would do (versions to land, fct_orders rows inserted and updated, revenue before and after).
    Nothing changes until `ordersync plan apply ID`."""

    if days is not None and (day_from or day_to):
        raise ConfigError("--days or --from/--to: choose one")
    with facade(warehouse) as app:
        first, last = parse_day(day_from, "--from"), parse_day(day_to, "--to")
        if (day_from or day_to) and (first is None or last is None):
            raise ConfigError("--from and --to go together")
        tenants = [app.get_tenant(n) for n in tenant] if tenant else app.list_tenants()
        if first is None or last is None:
            first, last = app.plans.recent_days(tenants, days or 14)
        plan = app.plans.draft(tenants, first, last, author=by, restate=restate, refetch=refetch)
    if as_json:
        print_json(plan.document())
        return
    _say(markdown(plan))
    _say(
        f"drafted plan {plan.plan_id}: review it, then `ordersync plan approve {plan.plan_id} --by NAME` "
        f"and `ordersync plan apply {plan.plan_id}`"
    )


@plan_app.command("list")
@guarded
def plan_list(as_json: JsonOpt = False, warehouse: WarehouseOpt = None) -> None:
    """The plans, newest first."""

    with facade(warehouse, progress=False) as app:
        if as_json:  # the API's pages (GET /v1/plans), every one
            print_pages(lambda after: Reads(app).plans(None, after, MAX_LIMIT))
            return
        rows = [p.summary() for p in app.recent_plans()]
    print_table("plans", rows)


@plan_app.command("show")
@guarded
def plan_show(
    plan_id: Annotated[str, typer.Argument(help="the plan's id")],
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    warehouse: WarehouseOpt = None,
) -> None:
    """A plan as Markdown (for review) or JSON."""

    if fmt not in ("md", "json"):
        raise ConfigError(f"--format {fmt!r}: use md or json")
    with facade(warehouse, progress=False) as app:
        plan = app.get_plan(plan_id)
    if fmt == "json":
        print_json(plan.document())
    else:
        _say(markdown(plan))


@guarded
def _review(plan_id: str, by: str, approve: bool, as_json: bool, warehouse: str | None) -> None:
    with facade(warehouse, progress=False) as app:
        plan = app.plans.approve(plan_id, by) if approve else app.plans.reject(plan_id, by)
    if as_json:
        print_json(plan.summary())
    else:
        _say(f"plan {plan.plan_id} {plan.status} by {plan.reviewed_by}")


@plan_app.command("approve")
def plan_approve(
    plan_id: Annotated[str, typer.Argument(help="the plan's id")],
    by: Annotated[str, typer.Option("--by", help="the reviewer")],
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Approve a drafted plan (in production, by someone other than its author)."""
    _review(plan_id, by, True, as_json, warehouse)


@plan_app.command("reject")
def plan_reject(
    plan_id: Annotated[str, typer.Argument(help="the plan's id")],
    by: Annotated[str, typer.Option("--by", help="the reviewer")],
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Reject a drafted plan: it can never apply."""
    _review(plan_id, by, False, as_json, warehouse)


@plan_app.command("apply")
@guarded
def plan_apply(
    plan_id: Annotated[str, typer.Argument(help="the plan's id")],
    by: Annotated[str | None, typer.Option("--by", help="who applies it (recorded)")] = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Apply a plan once: re-check it still holds (a stale plan is refused), land its versions,
    re-merge and recompute its days, and compare the result with what the plan said."""

    with facade(warehouse) as app:
        outcome = app.plans.apply(plan_id, by)
    if as_json:
        print_json(outcome.as_dict())
    elif not outcome.applied:
        _say(f"plan {plan_id} was applied before: nothing changed")
    else:
        _say(f"plan {plan_id} applied: {outcome.versions_landed} versions landed")
        if outcome.build_error:
            _say(f"the build after it failed: {outcome.build_error}")
        elif outcome.matches_plan:
            _say("the warehouse now holds what the plan said")
        else:
            for line in outcome.mismatches:  # e.g. a newer version landed while it applied
                _say(f"differs from the plan: {line}")
    if outcome.build_error:
        raise typer.Exit(1)
