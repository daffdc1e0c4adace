"""`ordersync verify`: the seed's verification, one line per check with its figures; non-zero exit
when a check failed."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import WarehouseOpt, facade, run_guarded
from ordersync.cli.output import console, print_json, print_table
from ordersync.observe.verify import CHECKS

_STATUS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skip": "skipped"}


def verify(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one tenant (default: all)")] = None,
    days: Annotated[
        int, typer.Option(min=1, help="complete days to reconcile against the source, back from yesterday")
    ] = 14,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", "-c", help=f"run only this check (repeatable): {', '.join(CHECKS)}"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Verify the warehouse: dbt tests, days against the source, fct_orders against the latest landed
    versions, revenue_daily against fct_orders, no full refresh, lateness. Exit 1 when a check fails."""

    def go() -> int:
        with facade(warehouse, progress=False, read_only=True) as app:
            report = app.verify(tenant, days, check)
        if as_json:
            print_json(report.as_dict())
        else:
            rows = [
                {
                    "check": c.check,
                    "tenant": c.tenant or "",
                    "status": _STATUS.get(c.status, c.status),
                    "figures": c.summary,
                }
                for c in report.checks
            ]
            print_table("verify", rows, below=())
            failed = report.failed
            if failed:
                names = ", ".join(f"{c.check} ({c.tenant})" if c.tenant else c.check for c in failed)
                console.print(f"verification failed: {names}", markup=False, highlight=False)
            else:
                console.print("every check passed", markup=False, highlight=False)
        return report.exit_code

    code = run_guarded(go)
    if code:
        raise typer.Exit(code)
