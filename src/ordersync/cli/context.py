"""Shared CLI state: global options, building the facade, and the one-line error handler."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ordersync.cli.output import RichReporter, err_console
from ordersync.clock import clock_from_setting
from ordersync.config import load_settings
from ordersync.errors import ConfigError, OrdersyncError
from ordersync.facade import Ordersync

F = TypeVar("F", bound=Callable[..., Any])

WarehouseOpt = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="DuckDB file path or postgresql:// URL (default ordersync.duckdb; env ORDERSYNC_WAREHOUSE)",
        show_default=False,
    ),
]


@dataclass
class State:
    warehouse: str | None = None
    config: Path | None = None
    debug: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


STATE = State()


@contextmanager
def facade(warehouse: str | None = None, *, progress: bool = True, **kwargs: Any) -> Iterator[Ordersync]:
    """Build the facade from every configuration layer; flags win."""
    overrides: dict[str, Any] = {k: dict(v) for k, v in STATE.overrides.items()}
    url = warehouse or STATE.warehouse
    if url:
        overrides.setdefault("warehouse", {})["url"] = url
    settings = load_settings(STATE.config, overrides)
    if "clock" not in kwargs:
        try:
            kwargs["clock"] = clock_from_setting(settings.clock)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    with RichReporter(enabled=progress and sys.stderr.isatty()) as reporter:
        app = Ordersync(settings, reporter=reporter, **kwargs)
        try:
            yield app
        finally:
            app.close()


def run_guarded(fn: Callable[[], Any]) -> Any:
    """Errors become one clear red line and a non-zero exit code; tracebacks only with --debug."""
    try:
        return fn()
    except OrdersyncError as exc:
        if STATE.debug:
            traceback.print_exc()
        err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if STATE.debug:
            traceback.print_exc()
        err_console.print(
            f"[red]unexpected error:[/red] {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(1) from None


def configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
