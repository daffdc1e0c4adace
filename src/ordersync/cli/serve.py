"""`ordersync serve`."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Annotated

import typer

from ordersync.cli.context import STATE, command_runner, facade, guarded
from ordersync.cli.options import WarehouseOpt
from ordersync.cli.output import console
from ordersync.config import ServeSettings
from ordersync.errors import ConfigError, WarehouseLockedError
from ordersync.facade import Ordersync
from ordersync.serve import channel


@guarded
def serve(
    ctx: typer.Context,
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
    # uvicorn and fastapi, only for the command that serves (start-up of every other command): imported
    # by serve_forever
    serve_overrides = STATE.overrides.setdefault("serve", {})
    if host is not None:
        serve_overrides["host"] = host
    if port is not None:
        serve_overrides["port"] = port
    serve_forever(ctx, warehouse, worker, tick)


def serve_forever(
    ctx: typer.Context,
    warehouse: str | None,
    worker: bool | None,
    tick: float,
    announce: Callable[[Ordersync, str], None] = lambda app, url: None,
) -> None:
    """Serve the warehouse until stopped (SIGINT or SIGTERM); `announce` hears the address once it
    answers, after serve's own line."""
    from ordersync.serve.process import Serve, ServeOptions

    with facade(warehouse, progress=False, forward=False) as app:
        if not app.settings.warehouse.is_postgres:
            where = channel.socket_for(app.settings.warehouse)
            if channel.answering(where):
                raise WarehouseLockedError(
                    f"ordersync serve is already running for {app.settings.warehouse.url} (it answers on "
                    f"{where}); stop it first, or leave it running: other commands run inside it"
                )
        options = ServeOptions(app.settings.serve, worker=worker, tick_seconds=tick)
        server = Serve(app, options, command_runner(ctx))

        def ready(url: str) -> None:
            console.print(
                f"serving on {url} (push API {url}/v1/tenants/NAME/orders, docs {url}/docs) for {app.warehouse_url}"
            )
            announce(app, url)

        try:
            server.run(on_ready=ready)
        except OSError as exc:
            refused = _listen_error(exc, app.settings.serve)
            if refused is None:
                raise
            raise refused from exc


def _listen_error(exc: OSError, settings: ServeSettings) -> ConfigError | None:
    """Why serve cannot listen where it was told to, and what to do (None: another error)."""
    where = f"{settings.host}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"cannot listen on {where}: the port is in use (another ordersync serve, or another program); "
            "stop it, or choose another port with --port or [serve] port"
        )
    if exc.errno == errno.EACCES:
        return ConfigError(f"cannot listen on {where}: not allowed (ports below 1024 need privileges); use --port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError(f"cannot listen on {where}: no such address on this machine; use --host")
    return None
