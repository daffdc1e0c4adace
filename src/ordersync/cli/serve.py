"""`ordersync serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import STATE, WarehouseOpt, facade, run_guarded
from ordersync.cli.output import console


def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (default [serve] host, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default [serve] port, 8787)")] = None,
    worker: Annotated[
        bool | None,
        typer.Option("--worker/--no-worker", help="run the worker's schedule here too (default: on DuckDB)"),
    ] = None,
    tick: Annotated[float, typer.Option("--tick", help="seconds between the worker's ticks")] = 3600.0,
    warehouse: WarehouseOpt = None,
) -> None:
    """Take pushed order events over HTTP (and, on DuckDB, run the worker's schedule), building
    fct_orders after landings at most every [serve] build_every_seconds."""
    from ordersync.web.server import Serve, ServeOptions

    def go() -> None:
        serve_overrides = STATE.overrides.setdefault("serve", {})
        if host is not None:
            serve_overrides["host"] = host
        if port is not None:
            serve_overrides["port"] = port
        with facade(warehouse, progress=False, forward=False) as app:
            options = ServeOptions(app.settings.serve, worker=worker, tick_seconds=tick)
            server = Serve(app, options)
            server.run(
                on_ready=lambda url: console.print(
                    f"serving on {url} (push API {url}/v1/tenants/NAME/orders, docs {url}/docs) "
                    f"for {app.wh.display_url}"
                )
            )

    run_guarded(go)
