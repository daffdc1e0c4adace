"""`ordersync customers`: who the champions are, who is at risk, what each customer is worth."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import CsvOpt, JsonOpt, SomeTenantOpt, TenantOpt, WarehouseOpt
from ordersync.cli.output import print_csv, print_json, print_table, say, say_error
from ordersync.customers.answers import COLUMNS
from ordersync.customers.journey import Stage
from ordersync.customers.rfm import Segment
from ordersync.customers.step import RunKind
from ordersync.errors import ConfigError
from ordersync.outcomes import RunStatus

app = typer.Typer(
    help="Customers kept after every build: profiles, RFM segments, CLV and journey stages.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _choice(value: str | None, allowed: type[Segment] | type[Stage], flag: str) -> str | None:
    if value is None:
        return None
    names = [v.value for v in allowed]
    if value not in names:
        raise ConfigError(f"{flag} {value!r} is not one of: {', '.join(names)}")
    return value


@app.callback()
@guarded
def list_(
    ctx: typer.Context,
    tenant: SomeTenantOpt = None,
    segment: Annotated[str | None, typer.Option(help="only this RFM segment, e.g. champions, at_risk")] = None,
    stage: Annotated[str | None, typer.Option(help="only this journey stage, e.g. active, lapsed")] = None,
    top: Annotated[int | None, typer.Option(min=1, help="the N most valuable (12-month CLV, then revenue)")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Customers, the most valuable first, with segment, stage, scores and CLV."""
    if ctx.invoked_subcommand is not None:
        return
    seg, stg = _choice(segment, Segment, "--segment"), _choice(stage, Stage, "--stage")
    with facade(warehouse, read_only=True) as os_:
        rows = os_.list_customers(tenant, segment=seg, stage=stg, top=top)
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(COLUMNS, rows)
    else:
        print_table("customers", [_shown(r) for r in rows])


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["p_alive"] = "" if row["p_alive"] is None else f"{row['p_alive']:.2f}"
    shown["last_purchase_at"] = row["last_purchase_at"].date().isoformat() if row["last_purchase_at"] else ""
    return shown


@app.command("show")
@guarded
def show(
    tenant: TenantOpt,
    key: Annotated[str | None, typer.Argument(help="the customer's key (cus_...)")] = None,
    email: Annotated[str | None, typer.Option(help="find the customer by an email instead")] = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """One customer: profile, scores, stage, CLV, orders, identifiers (masked) and change events."""
    if (key is None) == (email is None):
        raise ConfigError("give a customer key or --email")
    with facade(warehouse, read_only=True) as os_:
        found = os_.show_customer(tenant, key=key, email=email)
    if as_json:
        print_json(found)
        return
    orders, events = found.pop("orders"), found.pop("events")
    idents = found.pop("identifiers")
    print_table("customer", [{"field": k, "value": "" if v is None else v} for k, v in found.items()])
    print_table("identifiers", [{"identifier": i} for i in idents])
    print_table("orders", orders)
    print_table("events", events)


@app.command("recompute")
@guarded
def recompute(
    tenant: SomeTenantOpt = None,
    full: Annotated[bool, typer.Option("--full", help="re-link and re-score everyone; report what changed")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Keep the customers now (what changed since the last build), or recompute them in full."""
    with facade(warehouse) as os_:
        runs = os_.keep_customers(RunKind.FULL if full else RunKind.STEP, tenant)
    rows = [r.as_dict() for r in runs]
    failed = [r for r in runs if r.status is RunStatus.FAILED]
    if as_json:
        print_json(rows)
    elif not rows:
        say("no customers changed")
    else:
        print_table("customer runs", [{**r, "findings": r["findings"] or ""} for r in rows])
    if failed:
        say_error(f"{failed[0].tenant}'s customers run failed: {failed[0].error}")
        raise typer.Exit(1)


@app.command("model")
@guarded
def model(tenant: SomeTenantOpt = None, as_json: JsonOpt = False, warehouse: WarehouseOpt = None) -> None:
    """Each tenant's CLV model: parameters, time unit, fit date, sample and the fit's checks."""
    with facade(warehouse, read_only=True) as os_:
        rows = os_.customer_models(tenant)
    if as_json:
        print_json(rows)
        return
    shown = []
    for r in rows:
        m = r["model"] or {}
        params = {**m.get("bgnbd", {}), **m.get("gamma_gamma", {})}
        shown.append(
            {
                "tenant": r["tenant"],
                "ready": r["ready"],
                "fit_date": r["fit_date"],
                "reason": r["reason"] or "",
                "parameters": ", ".join(f"{k} {v:.4g}" for k, v in params.items()),
                "customers": r["report"].get("customers", ""),
                "repeat_buyers": r["report"].get("repeat_buyers", ""),
            }
        )
    print_table("CLV models", shown)


@app.command("events")
@guarded
def events(
    tenant: SomeTenantOpt = None,
    since: Annotated[str | None, typer.Option(help="events of this scoring date or later (YYYY-MM-DD)")] = None,
    undelivered: Annotated[bool, typer.Option("--undelivered", help="only those a webhook has not had")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Segment and stage changes, merges and splits, oldest first."""
    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        raise ConfigError(f"--since {since!r} is not a date: use YYYY-MM-DD") from None
    with facade(warehouse, read_only=True) as os_:
        rows = os_.customer_events(tenant, since=day, undelivered=undelivered)
    if as_json:
        print_json(rows)
    else:
        print_table("customer events", rows)


@app.command("forget")
@guarded
def forget(
    tenant: TenantOpt,
    by: Annotated[str, typer.Option("--by", help="who asked for it: recorded with the key")],
    email: Annotated[str | None, typer.Option(help="the person, by an email of theirs")] = None,
    document: Annotated[str | None, typer.Option(help="the person, by a document of theirs (CPF, CNPJ, ...)")] = None,
    key: Annotated[str | None, typer.Option(help="the person, by their customer key (cus_...)")] = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Take one person out: identifiers, profile, scores and events deleted; their orders' landed
    versions, fct_orders rows, plan versions and quarantined records redacted; later versions
    redacted as they land. Recorded by key alone."""
    with facade(warehouse) as os_:
        done = os_.forget_customer(tenant, by=by, key=key, email=email, document=document)
    if as_json:
        print_json(done.as_dict())
        return
    print_table("forgotten", [{"field": k, "value": v} for k, v in done.as_dict().items()])
