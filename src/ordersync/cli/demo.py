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
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync


@guarded
def demo(
    days: Annotated[
        int,
        typer.Option(
            help=f"days of order history in each simulated store but {scenario.YEAR_STORE}, which has "
            f"{scenario.YEAR_DAYS} (enough for its CLV model)"
        ),
    ] = 21,
    hours_later: Annotated[float, typer.Option(help="simulated hours between the two syncs")] = 6.0,
    warehouse: WarehouseOpt = None,
) -> None:
    """Start the simulator with a few stores, register them, sync, build, and show the result."""

    @contextmanager
    def open_app(clock: ManualClock, overrides: Mapping[str, dict[str, Any]]) -> Iterator[Ordersync]:
        for section, values in overrides.items():
            STATE.overrides.setdefault(section, {}).update(values)
        with facade(warehouse, clock=clock) as app:
            yield app

    result = scenario.run(open_app, days, hours_later, say=console.print)
    print_table("ordersync demo", result.rows)
    for line in result.lines:
        console.print(line)
    if result.customers:
        print_table("customers", result.customers, below=("why",))
    for line in result.customer_lines:
        console.print(line)
    if result.errors:
        say_error(result.errors[0])
        raise typer.Exit(1)
