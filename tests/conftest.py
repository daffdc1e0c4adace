"""Shared fixtures: a real DuckDB file and a real PostgreSQL database for every warehouse test, and
a manual clock per test module.

Each test session (each xdist worker) creates its own PostgreSQL database and drops it at the end;
set ORDERSYNC_TEST_PG_URL to point at another server. Migrating costs about half a second a
warehouse, so a session migrates one warehouse per backend once and every test gets a copy of it:
a copied DuckDB file, a PostgreSQL database created from it as a TEMPLATE (about 30 ms). Tests of
the migrations themselves ask for `empty_warehouse_url`.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import upgrade
from support import dbt_parse, properties  # noqa: F401  (properties registers and loads the hypothesis profile)

TESTS = Path(__file__).resolve().parent
#: put on the PYTHONPATH of every process the tests start (support/childsite/sitecustomize.py)
CHILD_SITE = TESTS / "support" / "childsite"
PG_ADMIN_URL = os.environ.get("ORDERSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
#: Where `clock` starts in a test module that sets no CLOCK_START of its own.
DEFAULT_CLOCK_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _with_db(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


def _migrate(url: str) -> None:
    wh = open_warehouse(WarehouseSettings(url=url))
    try:
        upgrade(wh)
    finally:
        wh.close()


@pytest.fixture(scope="session", autouse=True)
def _identity_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Customer keys in tests come from a secret file of the run's own (never the working folder's
    `.ordersync/identity.key`); processes the tests start inherit it, and the switches below."""
    path = tmp_path_factory.mktemp("identity") / "identity.key"
    os.environ["ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE"] = str(path)
    # Builds keep customers only in the tests about them (tests/customers turn it on): elsewhere it
    # would only add its cost to every build the suite runs.
    os.environ["ORDERSYNC__CUSTOMERS__ENABLED"] = "false"
    # Four test processes share two cores: DuckDB's own thread per core only adds their switching
    # (a fifth less CPU with one on the DuckDB transform and verify tests).
    os.environ["ORDERSYNC__WAREHOUSE__DUCKDB_THREADS"] = "1"
    yield


@pytest.fixture(scope="session", autouse=True)
def _shared_dbt_parse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every dbt build, in the test process or in a process it starts, starts from one parse per run
    and backend instead of parsing the project again for each warehouse (support/dbt_parse.py,
    support/childsite); only in a session that runs dbt tests.
    The run's base folder (holding each xdist worker's own) is shared by the workers.
    ORDERSYNC_TEST_SHARED_PARSE=0 turns it off: every warehouse's first build parses in full."""
    off = os.environ.get("ORDERSYNC_TEST_SHARED_PARSE") == "0"
    if off or not any(item.get_closest_marker("dbt") for item in request.session.items):
        yield
        return
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    dbt_parse.configure(root, PG_ADMIN_URL)
    # the processes the tests start (commands, serve, workers, chaos trials) seed theirs too
    os.environ["TESTS_SHARED_DBT_PARSE"], os.environ["TESTS_PG_ADMIN_URL"] = str(root), PG_ADMIN_URL
    os.environ["TESTS_DIR"] = str(TESTS)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(CHILD_SITE), os.environ.get("PYTHONPATH")) if p)
    with dbt_parse.seeding():
        yield


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


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> Iterator[str]:
    """The name of a PostgreSQL database migrated once for the session, the template of every test's."""
    name = f"ordersync_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        _migrate(_with_db(pg_server_url, name))
        yield name
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def duckdb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file migrated once for the session; every test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "wh.duckdb"
    _migrate(str(path))
    return path


def _pg_database(server_url: str, template: str | None) -> Iterator[str]:
    """A database of the test's own (a copy of `template`, or empty), dropped after it."""
    name = f"ordersync_t_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"{source}')
    try:
        yield _with_db(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server_url: str, pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own."""
    yield from _pg_database(pg_server_url, pg_template)


@pytest.fixture
def pg_empty_url(pg_server_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of the test's own (no schema cdp)."""
    yield from _pg_database(pg_server_url, None)


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a migrated warehouse of the test's own, once on DuckDB and once on PostgreSQL."""
    if request.param == "duckdb":
        path = tmp_path / "wh.duckdb"
        shutil.copyfile(request.getfixturevalue("duckdb_template"), path)
        return str(path)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=BACKENDS)
def empty_warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty warehouse (never migrated), once on DuckDB and once on PostgreSQL."""
    if request.param == "duckdb":
        return str(tmp_path / "wh.duckdb")
    return str(request.getfixturevalue("pg_empty_url"))


@pytest.fixture(scope="module", params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty warehouse kept for the module, once on DuckDB and once on PostgreSQL (the server's
    session database, emptied): each test works in tenants of its own."""
    if request.param == "duckdb":
        return str(tmp_path_factory.mktemp("module") / "wh.duckdb")
    url = str(request.getfixturevalue("pg_server_url"))
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS cdp CASCADE")
    return url


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    """An open, migrated warehouse on each backend."""
    wh = open_warehouse(WarehouseSettings(url=warehouse_url))
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


#: The longest tests (each over half a minute), started first.
LONGEST = ("worker/test_scenario", "worker/test_multi_worker", "transform/test_transform_convergence",
           "web/test_pages_browser", "sync/test_end_to_end", "sync/test_crash_resume",
           "transform/test_never_skip", "bench/test_bench_push", "bench/test_bench_dashboard")  # fmt: skip


#: Modules whose tests share a costly module-scoped fixture (a served app, a simulator, a synced and
#: built warehouse): each runs on one worker per backend (`pytest_xdist_make_scheduler`).
#: (web/test_bad_bodies.py is not one: its DuckDB tests, all on one served warehouse, exhaust
#: DuckDB's default memory limit.)
SHARED_SETUP = ("observe/test_verify.py", "observe/test_lateness.py", "web/test_edges.py",
                "revisions/test_plans.py", "revisions/test_revenue.py", "simulator/test_api.py",
                "simulator/test_feed.py", "simulator/test_hook.py", "simulator/test_sdk.py",
                "web/test_api_access.py", "web/test_pages_browser.py", "observe/test_summaries.py")  # fmt: skip


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Each test a unit of its own, handed to a worker once it has two or fewer left, except a
    SHARED_SETUP module's tests for one backend, which go to one worker as one unit: its
    module-scoped fixture is then set up once per backend instead of once on every worker (and
    again each time a worker's backend changes). xdist's `--dist loadgroup` would do it with marks,
    but it stopped grouping under pytest 9.2 (pytest-dev/pytest-xdist#1386). Units keep collection
    order, the longest first (`--no-loadscope-reorder`)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedSetupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module, _, rest = nodeid.partition("::")
            if not module.endswith(SHARED_SETUP):
                return nodeid
            params = rest.partition("[")[2]
            return f"{module}::{next((b for b in ('duckdb', 'postgres') if b in params), '')}"

    return SharedSetupScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, then the other slow ones, then the rest: the two workers then finish
    together on short tests instead of one waiting out a long scenario at the end.

    ORDERSYNC_TEST_SHUFFLE=SEED shuffles the tests within each of those ranks first. Under xdist any
    test may be the first of its module on a worker, so a test that leans on another's leftovers
    (a warehouse another test migrated, a clock another test moved) fails in some shuffled order."""
    seed = os.environ.get("ORDERSYNC_TEST_SHUFFLE")
    if seed:
        random.Random(seed).shuffle(items)

    def rank(item: pytest.Item) -> tuple[int, int]:
        for i, name in enumerate(LONGEST):
            if name in item.nodeid:
                return 0, i
        return (1 if item.get_closest_marker("slow") else 2), 0

    items.sort(key=rank)
