"""`ordersync feed` and `ordersync hook`: VTEX change capture besides the pull."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, TenantOpt, WarehouseOpt
from ordersync.cli.output import console, print_below, print_json, print_table
from ordersync.sources.vtex.setup import describe

feed_app = typer.Typer(help="VTEX Feed v3: set up a store's feed, poll it.", no_args_is_help=True)
hook_app = typer.Typer(help="VTEX Hook: have a store send its changes to ordersync serve.", no_args_is_help=True)

ForceOpt = Annotated[
    bool, typer.Option("--force", help="replace a configuration the app key already has (another reader may use it)")
]
FilterOpt = Annotated[
    str,
    typer.Option(
        "--filter",
        help="all: every change, item edits included (FromOrders, every time); "
        "status: status changes only (FromWorkflow; edits wait for the pull)",
    ),
]


@feed_app.command("setup")
@guarded
def feed_setup(
    tenant: TenantOpt,
    force: ForceOpt = False,
    what: FilterOpt = "all",
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Configure the store's feed for ordersync and poll it from now on.

    Every change by default, 240 s visibility, 4 days' retention; the feed holds only what changes
    after this. Running it again rewrites the feed ordersync set up (e.g. to change --filter)."""
    with facade(warehouse) as app:
        done = app.feed_setup(tenant, force, what)
    if as_json:
        print_json(done.public())
        return
    console.print(f"tenant {tenant}: feed configured ({describe('feed', done.config)}); change capture feed")
    if done.replaced is not None:
        print_below("replaced", describe("feed", done.replaced))


@feed_app.command("poll")
@guarded
def feed_poll(
    tenant: SomeTenantOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Read each feed tenant's feed once: fetch the changed orders, land them, commit the events.

    serve and the worker do this every feed.poll_seconds; run `ordersync build` after."""

    def go() -> bool:
        with facade(warehouse, progress=False) as app:
            rounds = app.feed_poll(tenant)
        if as_json:
            print_json([r.as_dict() for r in rounds])
            return all(r.ok for r in rounds)
        if not rounds:
            console.print("no tenant captures changes by the feed (ordersync feed setup --tenant NAME)")
            return True
        columns = ["tenant", "status", "events", "orders", "landed", "duplicates", "quarantined", "committed"]
        print_table("feed", [r.as_dict() for r in rounds], columns)
        for r in rounds:
            if r.error:
                print_below(r.tenant, r.error)
        return all(r.ok for r in rounds)

    if not go():
        raise typer.Exit(1)


@hook_app.command("setup")
@guarded
def hook_setup(
    tenant: TenantOpt,
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="where the store reaches ordersync serve: https://host (the tenant's hook path is added) "
            "or the full https://host/v1/hooks/vtex/NAME",
        ),
    ],
    force: ForceOpt = False,
    what: FilterOpt = "all",
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Have the store send every change to ordersync serve, with a secret header.

    Only the secret's hash is kept. serve must be running: the store pings the URL first. Running it
    again rewrites the hook ordersync set up and keeps its secret; --force always makes a new one."""
    with facade(warehouse) as app:
        done = app.hook_setup(tenant, url, force, what)
    if as_json:
        print_json(done.public())
        return
    console.print(f"tenant {tenant}: hook configured ({describe('hook', done.config)}); change capture hook")
    if done.replaced is not None:
        print_below("replaced", describe("hook", done.replaced))
