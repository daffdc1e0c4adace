"""The serve process runs a command forwarded over its local channel with the runner it was given (the
CLI passes its own in), and says so when it was given none; it never imports the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve import channel
from ordersync.serve.process import ServeOptions, serving_in_thread
from support.sim import settings_for


def _served(tmp_path: Path, duckdb_template: Path) -> tuple[Ordersync, ServeOptions, Path]:
    wh = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, wh)
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
    return Ordersync(settings_for(str(wh), tmp_path)), options, channel.socket_path(str(wh))


@pytest.mark.integration
def test_a_forwarded_command_runs_with_the_injected_runner(
    tmp_path: Path, duckdb_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, options, sock = _served(tmp_path, duckdb_template)
    ran: list[list[str]] = []

    def run_command(argv: list[str]) -> int:
        ran.append(argv)
        print("ran", *argv)
        return 7

    with serving_in_thread(app, options, run_command):
        assert channel.forward(sock, ["status", "--json"]) == 7
        assert channel.forward(sock, ["serve"]) == 2  # never a second serve inside the first
    assert ran == [["status", "--json"]]
    out, err = capsys.readouterr()
    assert "ran status --json" in out and "already running" in err


@pytest.mark.integration
def test_without_a_runner_a_forwarded_command_is_refused(
    tmp_path: Path, duckdb_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, options, sock = _served(tmp_path, duckdb_template)
    with serving_in_thread(app, options):
        assert channel.forward(sock, ["status"]) == 2
    assert "runs no commands" in capsys.readouterr().err


def test_the_serve_process_does_not_import_the_cli() -> None:
    code = "import sys, ordersync.serve.process; print(sorted(m for m in sys.modules if m.startswith('ordersync.cli')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
