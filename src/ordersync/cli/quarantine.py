"""`ordersync quarantine list`, `retry`, and withdrawing landed versions: `add`, `release`, `withdrawals`."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, TenantOpt, WarehouseOpt
from ordersync.cli.output import console, print_json, print_pages
from ordersync.paging import MAX_LIMIT
from ordersync.reads import Reads
from ordersync.text import printable

app = typer.Typer(
    help="Records that could not land: list them, retry them. Landed versions: withdraw them, release them.",
    no_args_is_help=True,
)

ReasonOpt = Annotated[str, typer.Option("--reason", help="why (kept with the withdrawal)")]
ByOpt = Annotated[str | None, typer.Option("--by", help="who (default: the user running the command)")]
#: reasons and errors printed under a table are cut here; --json has them in full
_TEXT_LIMIT = 300


@app.command("list")
@guarded
def list_(
    tenant: SomeTenantOpt = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="resolved records too")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Quarantined records: id, tenant, source, order id, when, whether resolved; their reasons below
    (--json: every field, reasons in full)."""

    with facade(warehouse, progress=False, read_only=True) as app_:
        if as_json:  # the API's pages (GET /v1/tenants/{tenant}/quarantine), every one
            print_pages(lambda after: Reads(app_).quarantine(tenant, None, include_resolved, after, MAX_LIMIT))
            return
        rows = app_.quarantine_list(tenant, include_resolved)
    if not rows:
        console.print("quarantine: nothing to show" + ("" if include_resolved else " (--all shows resolved)"))
        return
    table = _table("quarantine", ["id", "tenant", "source", "order id", "quarantined", "resolved"])
    for r in rows:
        table.add_row(
            *_cells(
                str(r["quarantine_id"]),
                _cut(r["tenant"], 12),
                r["source"],
                _cut(r["order_id"] or "", 18),
                (r["quarantined_at"] or "")[:16].replace("T", " "),
                "yes" if r["resolved"] else "no",
            )
        )
    console.print(table)
    _notes("reasons", [(str(r["quarantine_id"]), _reason(r)) for r in rows])


@app.command("retry")
@guarded
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="quarantine ids (default: every unresolved one)")] = None,
    tenant: SomeTenantOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Parse quarantined records again (fetching store records again), land what parses now and mark
    it resolved; records stay in the quarantine as the audit trail."""

    with facade(warehouse, progress=False) as app_:
        result = app_.quarantine_retry(tenant, list(ids) if ids else None)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"retried {result.retried}: {result.resolved} resolved ({result.landed} new versions landed), "
        f"{result.still_bad} still bad"
    )
    bad = [o for o in result.outcomes if o.status != "resolved"]
    _notes("still bad", [(str(o.quarantine_id), f"{o.order_id or '-'}: {o.error}") for o in bad])


@app.command("add")
@guarded
def add(
    tenant: TenantOpt,
    order: Annotated[str, typer.Option("--order", help="the order id")],
    reason: ReasonOpt,
    version: Annotated[
        str | None, typer.Option("--version", help="one version's payload hash (default: every version)")
    ] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Withdraw a landed version of an order (or all of them): from the next build on the models
    ignore it (the order falls back to its previous version, or leaves them); the ledger keeps it.
    Reversible with `ordersync quarantine release`."""

    with facade(warehouse, progress=False) as app_:
        row = app_.withdraw(tenant, order, version, reason, by or getpass.getuser())
    if as_json:
        print_json(row)
        return
    what = f"version {row['payload_hash']} of order" if row["payload_hash"] else "every version of order"
    console.print(
        Text(
            printable(
                f"withdrawal {row['withdrawal_id']}: {what} {row['order_id']} of {tenant}; the next "
                f"`ordersync build` leaves it out (undo: ordersync quarantine release {row['withdrawal_id']})"
            )
        )
    )


@app.command("release")
@guarded
def release(
    withdrawal_id: Annotated[int, typer.Argument(help="the withdrawal's id (`ordersync quarantine withdrawals`)")],
    reason: ReasonOpt,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="only if it is this tenant's")] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Release a withdrawal: its versions count again from the next build on."""

    with facade(warehouse, progress=False) as app_:
        row = app_.release_withdrawal(withdrawal_id, reason, by or getpass.getuser(), tenant)
    if as_json:
        print_json(row)
        return
    console.print(f"withdrawal {row['withdrawal_id']} released; the next `ordersync build` brings it back")


@app.command("withdrawals")
@guarded
def withdrawals(
    tenant: SomeTenantOpt = None,
    include_released: Annotated[bool, typer.Option("--all", help="released withdrawals too")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Withdrawn versions: id, tenant, order, version, who and when, whether released; reasons below."""

    with facade(warehouse, progress=False) as app_:
        rows = app_.list_withdrawals(tenant, include_released)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("withdrawals: nothing to show" + ("" if include_released else " (--all shows released)"))
        return
    table = _table("withdrawals", ["id", "tenant", "order id", "version", "by", "withdrawn", "released"])
    for r in rows:
        table.add_row(
            *_cells(
                str(r["withdrawal_id"]),
                _cut(r["tenant"], 12),
                _cut(r["order_id"], 18),
                _cut(r["payload_hash"] or "all", 10),
                _cut(r["withdrawn_by"], 10),
                r["withdrawn_at"][:16].replace("T", " "),
                "yes" if r["released"] else "no",
            )
        )
    console.print(table)
    _notes("reasons", [(str(r["withdrawal_id"]), _withdrawal_reason(r)) for r in rows])


def _withdrawal_reason(r: dict[str, Any]) -> str:
    if not r["released"]:
        return str(r["reason"])
    return f"{r['reason']} (released by {r['released_by']}: {r['release_reason']})"


def _reason(r: dict[str, Any]) -> str:
    if r["resolved"]:
        return f"{r['reason']} (resolved {r['resolved_at'][:16].replace('T', ' ')})"
    if not r["retries"]:
        return str(r["reason"])
    now = "" if r["last_error"] in (None, r["reason"]) else f"; now: {r['last_error']}"
    return f"{r['reason']} (retried {r['retries']}x{now})"


def _table(title: str, columns: list[str]) -> Table:
    # no vertical rules and one space between columns: six columns fit an 80-column terminal
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in columns:
        table.add_column(name, no_wrap=True)
    return table


def _notes(title: str, notes: list[tuple[str, str]]) -> None:
    """(id, text) lines under a heading; long text wraps under itself, cut at _TEXT_LIMIT."""
    if not notes:
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, text in notes:
        grid.add_row(*_cells(key, _cut(" ".join(text.split()), _TEXT_LIMIT)))
    console.print(f"{title}:")
    console.print(grid)


def _cells(*values: str) -> list[Text]:
    # Text, not markup: a reason or an order id holding "[...]" is shown as it is.
    return [Text(printable(v)) for v in values]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
