"""Fixtures of the observe tests."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One empty warehouse for the module per backend; each test works in tenants of its own."""
    if request.param == "duckdb":
        return str(tmp_path_factory.mktemp("observe") / "wh.duckdb")
    url = str(request.getfixturevalue("pg_server_url"))
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS cdp CASCADE")
    return url
