"""A command answers at once: `ordersync --help` and `ordersync status` on a DuckDB warehouse import none
of the heavy packages (the simulator's numpy, the serve's uvicorn and fastapi, psycopg, pyarrow, dbt).
Python's own import log (-X importtime) names every module a run imported."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from ordersync.facade import Ordersync
from support import processes
from support.cli import environment
from support.sim import settings_for

HEAVY = ("numpy", "scipy", "uvicorn", "fastapi", "psycopg", "pyarrow", "dbt")
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", re.M)


def imported(args: list[str], cwd: Path) -> set[str]:
    """The top-level packages that `ordersync *args` imported; the command must succeed."""
    done = processes.run(
        [sys.executable, "-X", "importtime", "-m", "ordersync", *args],
        " ".join(["ordersync", *args]),
        timeout=120,
        cwd=cwd,
        env=environment(clean_env=True),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {name.split(".")[0] for name in _IMPORTED.findall(done.stderr)}


def test_help_imports_no_heavy_package(tmp_path: Path) -> None:
    packages = imported(["--help"], tmp_path)
    assert "ordersync" in packages  # the log is read as expected
    assert packages.isdisjoint(HEAVY), sorted(packages & set(HEAVY))


@pytest.mark.parametrize("as_json", [False, True])
def test_status_on_duckdb_imports_no_heavy_package(tmp_path: Path, duckdb_template: Path, as_json: bool) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, wh)
    with Ordersync(settings_for(str(wh), tmp_path)) as app:
        app.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    packages = imported(["status", "--warehouse", str(wh), *(["--json"] if as_json else [])], tmp_path)
    assert "duckdb" in packages  # it did read the warehouse
    assert packages.isdisjoint(HEAVY), sorted(packages & set(HEAVY))
