"""The options several commands share, declared once so each means the same everywhere.

A command whose option means something else keeps its own declaration (`quarantine withdraw
--tenant`, a guard; `--by`, whose default differs by command).
"""

from __future__ import annotations

from typing import Annotated

import typer

WarehouseOpt = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="DuckDB file path, postgresql:// URL or libpq key=value string (default ordersync.duckdb; "
        "env ORDERSYNC_WAREHOUSE)",
        show_default=False,
    ),
]
#: one tenant, required
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="the tenant's name")]
#: one tenant or, without it, every tenant
SomeTenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="one tenant (default: all)")]
#: any number of tenants or, without it, every tenant
TenantsOpt = Annotated[list[str] | None, typer.Option("--tenant", "-t", help="a tenant (repeatable; default: all)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="print the result as CSV")]
FromOpt = Annotated[str | None, typer.Option("--from", help="first order date, YYYY-MM-DD")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last order date, YYYY-MM-DD")]
