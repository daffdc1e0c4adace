"""The warehouse: DuckDB (embedded default) or PostgreSQL, schema `cdp`."""

from __future__ import annotations

from ordersync.config import WarehouseSettings
from ordersync.warehouse.base import LANDING_COLUMNS, Warehouse, duckdb_path

__all__ = ["LANDING_COLUMNS", "Warehouse", "duckdb_path", "open_warehouse"]


def open_warehouse(settings: WarehouseSettings, *, read_only: bool = False) -> Warehouse:
    """Connect to the configured warehouse (heavy drivers are imported only here). `read_only`
    (reading commands) opens a DuckDB file read-only and never creates one."""
    if settings.is_postgres:
        from ordersync.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(settings.url)
    from ordersync.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(
        settings.url, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads, read_only=read_only
    )
