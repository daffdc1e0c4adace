"""`ordersync verify`: the seed's verification, one line per check with its figures; non-zero exit
when a check failed."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, WarehouseOpt
from ordersync.cli.output import console, print_json, print_table, say
from ordersync.observe.verify import CHECKS

_STATUS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skip": "skipped"}


@guarded
def verify(
    tenant: SomeTenantOpt = None,
    days: Annotated[
        int, typer.Option(min=1, help="complete days to reconcile against the source, back from yesterday")
    ] = 14,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", "-c", help=f"run only this check (repeatable): {', '.join(CHECKS)}"),
    ] = None,
    as_json: JsonOpt = False,
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
                say(f"verification failed: {names}")
            else:
                console.print("every check passed", markup=False, highlight=False)
        return report.exit_code

    code = go()
    if code:
        raise typer.Exit(code)
