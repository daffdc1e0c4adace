"""`ordersync demo`: the built-in simulator, a few stores, a sync, the models, a table per tenant."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from ordersync import demo as scenario
from ordersync.cli.context import STATE, facade, guarded
from ordersync.cli.options import WarehouseOpt
from ordersync.cli.output import console, print_table, say_error
from ordersync.cli.serve import serve_forever
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.tenants.tokens import Scope

#: the label of the admin token `demo --serve` prints (the name its approvals are recorded under)
DEMO_ADMIN = "demo admin"


@guarded
def demo(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            help=f"days of order history in each simulated store but {scenario.YEAR_STORE}, which has "
            f"{scenario.YEAR_DAYS} (enough for its CLV model)"
        ),
    ] = 21,
    hours_later: Annotated[float, typer.Option(help="simulated hours between the two syncs")] = 6.0,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="then serve the demo's warehouse (the dashboard, the API) with its stores still answering, "
            "until Ctrl-C; prints the address and an admin token",
        ),
    ] = False,
    port: Annotated[int | None, typer.Option(help="with --serve: the port (default [serve] port, 8787)")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Start the simulator with a few stores, register them, sync, build, and show the result."""

    @contextmanager
    def open_app(clock: ManualClock, overrides: Mapping[str, dict[str, Any]]) -> Iterator[Ordersync]:
        for section, values in overrides.items():
            STATE.overrides.setdefault(section, {}).update(values)
        with facade(warehouse, clock=clock) as app:
            yield app

    def then(result: scenario.DemoResult) -> None:
        show(result)
        if serve and not result.errors:
            if port is not None:
                STATE.overrides.setdefault("serve", {})["port"] = port
            with facade(warehouse) as app:  # before serving: the served connection is serve's alone
                _, token = app.create_token(None, DEMO_ADMIN, scope=Scope.ADMIN)

            def announce(app: Ordersync, url: str) -> None:
                console.print(f"dashboard: {url}/ (Ctrl-C stops); log in with this admin token, shown once:")
                console.print(token, soft_wrap=True)  # never broken over two lines: it is copied whole

            serve_forever(ctx, warehouse, worker=False, tick=3600.0, announce=announce)

    result = scenario.run(open_app, days, hours_later, say=console.print, then=then)
    if result.errors:
        say_error(result.errors[0])
        raise typer.Exit(1)


def show(result: scenario.DemoResult) -> None:
    print_table("ordersync demo", result.rows)
    for line in result.lines:
        console.print(line)
    if result.customers:
        print_table("customers", result.customers, below=("why",))
    for line in result.customer_lines:
        console.print(line)
