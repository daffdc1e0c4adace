"""Shared fixtures: a real DuckDB file and a real PostgreSQL database for every warehouse test.

Each test session creates its own PostgreSQL database (so parallel sessions never collide) and
drops it at the end. Set ORDERSYNC_TEST_PG_URL to point at another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import upgrade

PG_ADMIN_URL = os.environ.get("ORDERSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_db(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; the tests fail (never skip) without a server."""
    name = f"ordersync_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(PG_ADMIN_URL, name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """The session's PostgreSQL database, emptied of ordersync's schema before the test."""
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS cdp CASCADE")
    return pg_server_url


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty warehouse, once on DuckDB and once on PostgreSQL."""
    if request.param == "duckdb":
        return str(tmp_path / "wh.duckdb")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    """An open, migrated warehouse on each backend."""
    wh = open_warehouse(WarehouseSettings(url=warehouse_url))
    upgrade(wh)
    try:
        yield wh
    finally:
        wh.close()
