"""Shared fixtures: a real DuckDB file and a real PostgreSQL database for every warehouse test, and
a manual clock per test module.

Each test session creates its own PostgreSQL database (so parallel sessions never collide) and
drops it at the end. Set ORDERSYNC_TEST_PG_URL to point at another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import upgrade

PG_ADMIN_URL = os.environ.get("ORDERSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#: Where `clock` starts in a test module that sets no CLOCK_START of its own.
DEFAULT_CLOCK_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


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


@pytest.fixture(scope="module")
def clock(request: pytest.FixtureRequest) -> ManualClock:
    """One ManualClock for the tests of a module, starting at the module's CLOCK_START (a timezone-aware
    datetime; DEFAULT_CLOCK_START without one). Module-scoped, so module-scoped fixtures (the revision
    tests' `app`) can run on it; it moves only when a test moves it, so a test that needs its own start
    sets it (`clock.set(CLOCK_START)`)."""
    return ManualClock(getattr(request.module, "CLOCK_START", DEFAULT_CLOCK_START))
