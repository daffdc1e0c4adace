"""`ordersync revenue`: daily revenue as built or as known at a moment, and `revenue diff`."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import CsvOpt, FromOpt, JsonOpt, SomeTenantOpt, ToOpt, WarehouseOpt
from ordersync.cli.output import print_json, print_table, say
from ordersync.errors import ConfigError
from ordersync.facade import Ordersync
from ordersync.revisions.shapes import diff_item, money, revenue_csv, revenue_row

app = typer.Typer(
    help="Daily revenue per tenant, day and currency: as built, or as known at a moment (exactly).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def parse_day(text: str | None, flag: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date: use YYYY-MM-DD") from None


def parse_moment(text: str, flag: str) -> datetime:
    """An ISO-8601 instant with its zone (a trailing Z is UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a moment: use ISO 8601, e.g. 2026-06-05T18:00:00Z") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{flag} {text!r} has no time zone: add one, e.g. {text}Z or {text}-03:00")
    return moment


def _names(app_: Ordersync) -> dict[int, str]:
    return {t.tenant_id: t.tenant_name for t in app_.list_tenants()}


@app.callback()
@guarded
def revenue(
    ctx: typer.Context,
    tenant: SomeTenantOpt = None,
    day_from: FromOpt = None,
    day_to: ToOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="as known at this moment (ISO 8601 with zone); default: as last built"),
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Daily revenue per tenant, order date and currency. Without --as-of: revenue_daily as the last
    build left it, with the instant it is as of; with --as-of T: from exactly the versions known at
    T, the same answer whenever it is asked."""
    if ctx.invoked_subcommand is not None:
        return

    if as_json and as_csv:
        raise ConfigError("--json and --csv: choose one")
    first, last = parse_day(day_from, "--from"), parse_day(day_to, "--to")
    moment = parse_moment(as_of, "--as-of") if as_of else None
    # an as-of question seals the ledger first (numbers what committed until now): that writes
    with facade(warehouse, progress=False, read_only=moment is None) as app_:
        result = app_.revenue(tenant, first, last, moment)
        names = _names(app_)
    rows = [revenue_row(d, names) for d in result.days]
    stamp = result.as_of.isoformat() if result.as_of else None
    if as_json:
        print_json({"as_of": stamp, "days": rows})
    elif as_csv:
        revenue_csv(result.days, names, sys.stdout)
    else:
        print_table(f"revenue as of {stamp or 'nothing known yet'}", rows)
        if stamp:
            say(f"reproduce exactly: ordersync revenue --as-of {stamp}")


@app.command()
@guarded
def diff(
    as_of: Annotated[str, typer.Option("--as-of", help="before: as known at this moment")],
    against: Annotated[
        str | None, typer.Option("--against", help="after: as known at this moment (default now)")
    ] = None,
    tenant: SomeTenantOpt = None,
    day_from: FromOpt = None,
    day_to: ToOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Every day revised between two moments: before, after, delta, and the orders that caused it."""

    before = parse_moment(as_of, "--as-of")
    after = parse_moment(against, "--against") if against else None
    first, last = parse_day(day_from, "--from"), parse_day(day_to, "--to")
    with facade(warehouse, progress=False) as app_:  # seals the ledger first, as --as-of does
        days = app_.revenue_diff(before, after, tenant, first, last)
        names = _names(app_)
    if as_json:
        print_json([diff_item(d, names) for d in days])
        return
    if not days:
        say("no day's revenue differs between the two moments")
        return
    print_table(
        "revised days",
        [
            {
                "tenant": names.get(d.tenant_id, str(d.tenant_id)),
                "date": d.order_date.isoformat(),
                "currency": d.currency_code,
                "before": money(d.before.revenue),
                "after": money(d.after.revenue),
                "delta": money(d.delta),
                "orders before": d.before.orders,
                "orders after": d.after.orders,
                "orders changed": len(d.orders),
                "changed": ", ".join(c.order_id for c in d.orders[:5]) + (" ..." if len(d.orders) > 5 else ""),
            }
            for d in days
        ],
        below=("changed",),
    )
