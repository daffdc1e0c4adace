"""DuckDB's memory limit after a build: the configured pool beside what the indexes hold, which
DuckDB never evicts (a limit below it would leave the next statement no room at all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordersync.config import WarehouseSettings
from ordersync.warehouse import open_warehouse
from ordersync.warehouse.duckdb import duckdb_size


def _limit(wh: object) -> int:
    size = duckdb_size(str(wh.scalar("SELECT current_setting('memory_limit')")))  # type: ignore[attr-defined]
    assert size is not None
    return size


def test_after_a_build_the_pool_sits_beside_the_indexes(tmp_path: Path) -> None:
    wh = open_warehouse(WarehouseSettings(url=str(tmp_path / "wh.duckdb"), duckdb_memory_limit="32MB"))
    try:
        configured = _limit(wh)
        with wh.building():  # DuckDB's default limit: room to load an index of some 20 MB
            wh.execute("CREATE TABLE keyed (k VARCHAR PRIMARY KEY)")
            wh.execute("INSERT INTO keyed SELECT 'key-' || i::VARCHAR FROM range(400000) t(i)")
        held = int(wh.scalar("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'"))
        assert held > 0
        assert _limit(wh) >= configured + held * 0.99  # the shown limit is rounded to a tenth of a MiB
        # the next statements have room: a lookup through the index and a write that grows it
        assert wh.scalar("SELECT count(*) FROM keyed WHERE k = 'key-123'") == 1
        wh.execute("INSERT INTO keyed SELECT 'more-' || i::VARCHAR FROM range(20000) t(i)")
        with wh.building():
            pass
        assert _limit(wh) < configured + held * 1.5  # computed anew after each build, not accumulated
    finally:
        wh.close()

    assert duckdb_size("45.7 MiB") == int(45.7 * 2**20)
    assert duckdb_size("0 bytes") == 0 and duckdb_size("1.5 GiB") == int(1.5 * 2**30)
    assert duckdb_size("48MB") is None


def test_duckdb_threads_caps_the_process_instance_and_a_second_connection_joins_it(tmp_path: Path) -> None:
    """`[warehouse] duckdb_threads` is the instance's, set after connecting, so a connection opened
    with the same memory limit but no thread cap still joins the process's instance."""
    path = str(tmp_path / "wh.duckdb")
    capped = open_warehouse(WarehouseSettings(url=path, duckdb_threads=1))
    try:
        assert capped.scalar("SELECT current_setting('threads')") == 1
        other = open_warehouse(WarehouseSettings(url=path))
        try:
            assert other.scalar("SELECT current_setting('threads')") == 1
        finally:
            other.close()
    finally:
        capped.close()
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        WarehouseSettings(url=path, duckdb_threads=0)
