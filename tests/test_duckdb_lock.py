"""DuckDB allows one writing process; a second one is told so clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ordersync.config import WarehouseSettings
from ordersync.errors import WarehouseLockedError
from ordersync.warehouse import open_warehouse
from support.processes import spawned, wait_for


def test_second_process_on_a_duckdb_file_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    log = tmp_path / "holder.log"
    hold = f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(600)"
    with spawned([sys.executable, "-c", hold], log) as holder:

        def opened_or_gone() -> bool:
            return holder.poll() is not None or "ok" in log.read_text().splitlines()

        wait_for(opened_or_gone, "the holder process to open the DuckDB file")
        assert holder.poll() is None, log.read_text()
        with pytest.raises(WarehouseLockedError, match=r"one writer.*PostgreSQL"):
            open_warehouse(WarehouseSettings(url=str(path)))
    open_warehouse(WarehouseSettings(url=str(path))).close()  # free again once the holder is gone (waited on)
