"""Shared CLI state: global options, building the facade, and the one-line error handler."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import click
import typer

from ordersync.cli.output import RichReporter, err_console, say_error
from ordersync.clock import clock_from_setting
from ordersync.config import LogSettings, load_settings
from ordersync.errors import ConfigError, OrdersyncError
from ordersync.facade import Ordersync
from ordersync.secrets import scrub
from ordersync.serve import channel

_log = logging.getLogger("ordersync.cli")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class State:
    warehouse: str | None = None
    config: Path | None = None
    debug: bool = False
    #: --log-format (or [log] format): with "json", errors too are reported as a JSON log line
    log_format: str = "text"
    overrides: dict[str, Any] = field(default_factory=dict)


STATE = State()


@contextmanager
def facade(
    warehouse: str | None = None,
    *,
    progress: bool = True,
    forward: bool = True,
    read_only: bool = False,
    **kwargs: Any,
) -> Iterator[Ordersync]:
    """Build the facade from every configuration layer; flags win. On a DuckDB file that a running
    `ordersync serve` holds, the command is handed to that process instead (serve.channel), unless
    `forward` is off (serve itself). `read_only` (reading commands): a DuckDB file is opened
    read-only and never created; inside serve, which has the file open for writing (DuckDB refuses
    a second configuration of one file in a process), it is opened as serve opens it."""
    overrides: dict[str, Any] = {k: dict(v) for k, v in STATE.overrides.items()}
    url = warehouse or STATE.warehouse
    if url:
        overrides.setdefault("warehouse", {})["url"] = url
    settings = load_settings(STATE.config, overrides)
    if forward and not settings.warehouse.is_postgres and not channel.SERVING.is_set():
        path = channel.socket_for(settings.warehouse)
        if channel.answering(path):
            raise channel.ForwardToServe(path)
    if "clock" not in kwargs:
        try:
            kwargs["clock"] = clock_from_setting(settings.clock)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    with RichReporter(enabled=progress and sys.stderr.isatty()) as reporter:
        app = Ordersync(settings, reporter=reporter, read_only=read_only and not channel.forwarded(), **kwargs)
        try:
            yield app
        finally:
            app.close()


class CommandLine(Protocol):
    """A click command (the CLI's root group), as `run_command_line` calls it."""

    def main(self, *, args: list[str], prog_name: str, standalone_mode: bool) -> Any: ...


def run_command_line(command: CommandLine, argv: list[str]) -> int:
    """Run one command line of `command` (the CLI) in this process and return its exit code: what
    a serve does with a command sent over its local channel. The global options are restored after."""
    saved = (STATE.warehouse, STATE.config, STATE.debug, STATE.log_format, STATE.overrides)
    STATE.overrides = {}
    try:
        result = command.main(args=argv, prog_name="ordersync", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        STATE.warehouse, STATE.config, STATE.debug, STATE.log_format, STATE.overrides = saved


def command_runner(ctx: typer.Context) -> Callable[[list[str]], int]:
    """A runner for the command lines of the CLI that is running now (the root of `ctx`), handed to
    the serve process so that it never imports the CLI."""
    return functools.partial(run_command_line, ctx.find_root().command)


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """The one error handler of every command: errors become one clear red line and a non-zero exit
    code (the error class's `exit_code`; 130 when interrupted); tracebacks only with --debug.

    Everything it prints is scrubbed of known secrets (the warehouse password, credentials read
    from the environment, ORDERSYNC_*TOKEN* / *PASSWORD* values), the traceback included."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OrdersyncError as exc:
            _report(exc, "error:", str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]", markup=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            _report(exc, "unexpected error:", f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)")
            raise typer.Exit(1) from None

    return run


def _report(exc: BaseException, label: str, text: str) -> None:
    if STATE.log_format == "json" and not channel.forwarded():
        # stderr carries JSON lines only: the error is one more, with its traceback under --debug
        message = text if label == "error:" else f"{label} {text}"
        _log.error("%s", message, exc_info=exc if STATE.debug else None)
        return
    if STATE.debug:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc))))  # as is: no re-wrapping
        sys.stderr.flush()
    say_error(text, label)


def log_options(config: Path | None, fmt: str | None, level: str | None, debug: bool) -> tuple[str, str]:
    """The log format and level: the flags, else `[log]` from the settings' layers (the defaults when
    those cannot be read: the command itself then says why); `--debug` means level debug unless
    --log-level is given."""
    flags = {k: v for k, v in (("format", fmt), ("level", level)) if v is not None}
    try:
        log = load_settings(config, {"log": flags}).log
    except ConfigError:
        log = LogSettings.model_validate(flags)
    return log.format, level or ("debug" if debug else log.level)
