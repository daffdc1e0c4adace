"""Fixtures for the dbt model tests (helpers live in tests/support/transform.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from support.transform import DbtWarehouse, open_dbt_warehouse


@pytest.fixture
def dbt_wh(warehouse_url: str, tmp_path: Path) -> Iterator[DbtWarehouse]:
    """A migrated warehouse on each backend, with dbt's state in the test's tmp_path."""
    w = open_dbt_warehouse(warehouse_url, tmp_path / "dbt-state")
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def pg_icu_url(pg_server_url: str) -> Iterator[str]:
    """A PostgreSQL database whose collation sorts 'a' before 'B' (ICU en-US), unlike byte order."""
    name = f"ordersync_icu_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    base, _, _ = pg_server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def push_app(warehouse_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Ordersync]:
    """A facade on a fresh warehouse of each backend (push tenants: support/revisions.py), on the
    module's clock."""
    settings = load_settings(
        overrides={"warehouse": {"url": warehouse_url}, "dbt": {"state_dir": str(tmp_path / "dbt")}}
    )
    with Ordersync(settings, clock=clock) as facade:
        facade.init()
        yield facade
