"""DuckDB allows one writing process; a second one is told so clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ordersync.config import WarehouseSettings
from ordersync.errors import WarehouseLockedError
from ordersync.warehouse import open_warehouse


def test_second_process_on_a_duckdb_file_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        with pytest.raises(WarehouseLockedError, match=r"one writer.*PostgreSQL"):
            open_warehouse(WarehouseSettings(url=str(path)))
    finally:
        holder.kill()
        holder.wait()
    open_warehouse(WarehouseSettings(url=str(path))).close()  # free again once the holder is gone (waited on)
