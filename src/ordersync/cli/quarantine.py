"""`ordersync quarantine list` and `ordersync quarantine retry`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from ordersync.cli.context import WarehouseOpt, facade, run_guarded
from ordersync.cli.output import console, print_json

app = typer.Typer(help="Records that could not land: list them, retry them.", no_args_is_help=True)

TenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="only this tenant's records")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print every field as JSON (reasons in full)")]
#: reasons and errors printed under a table are cut here; --json has them in full
_TEXT_LIMIT = 300


@app.command("list")
def list_(
    tenant: TenantOpt = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="resolved records too")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Quarantined records: id, tenant, source, order id, when, whether resolved; their reasons below."""

    def go() -> None:
        with facade(warehouse, progress=False, read_only=True) as app_:
            rows = app_.quarantine_list(tenant, include_resolved)
        if as_json:
            print_json(rows)
            return
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

    run_guarded(go)


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="quarantine ids (default: every unresolved one)")] = None,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Parse quarantined records again (fetching store records again), land what parses now and mark
    it resolved; records stay in the quarantine as the audit trail."""

    def go() -> None:
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

    run_guarded(go)


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
    return [Text(_printable(v)) for v in values]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _printable(text: str) -> str:
    """Control characters written out (\\x1b...), so a record cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
