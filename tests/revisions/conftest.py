"""Fixtures of the revision tests: one warehouse per module and backend (each test works in tenants
of its own), and a facade on it driven by the module-scoped `clock` fixture (tests/conftest.py),
which starts at the module's CLOCK_START."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "duckdb":
        yield str(tmp_path_factory.mktemp("shared") / "wh.duckdb")
        return
    server = str(request.getfixturevalue("pg_server_url"))
    dbname = f"ordersync_rev_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield f"{server.rpartition('/')[0]}/{dbname}"
    finally:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="module")
def app(shared_url: str, clock: ManualClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ordersync]:
    state = tmp_path_factory.mktemp("dbt")
    settings = load_settings(overrides={"warehouse": {"url": shared_url}, "dbt": {"state_dir": str(state)}})
    with Ordersync(settings, clock=clock) as facade:
        facade.init()
        yield facade
