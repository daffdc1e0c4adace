"""Migrations are explicit and locked: many processes starting at once all succeed, each migration
runs once; check() never changes anything and says what to run."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from ordersync.config import WarehouseSettings
from ordersync.errors import SchemaError, WarehouseError
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import available, check, current_version, latest_version, upgrade

PROCESSES = 8


def _leave_at(wh: Warehouse, version: int) -> None:
    """The warehouse as an older ordersync left it: migrations up to `version` applied."""
    upgrade_to = [m for m in available(wh.dialect) if m.version <= version]
    wh.execute("CREATE SCHEMA IF NOT EXISTS cdp")
    wh.execute(
        "CREATE TABLE cdp.schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL)"
    )
    for m in upgrade_to:
        with wh.transaction():
            wh.run_script(m.sql)
            wh.execute("INSERT INTO cdp.schema_migrations VALUES (?, ?, now())", (m.version, m.name))


def _upgrade_in_child(url: str, barrier: Any, results: Any) -> None:
    try:
        wh = open_warehouse(WarehouseSettings(url=url))
        try:
            barrier.wait(30)
            results.put(("ok", [m.version for m in upgrade(wh)]))
        finally:
            wh.close()
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _upgrade_in_processes(url: str) -> list[int]:
    ctx = multiprocessing.get_context("fork")  # the children need no fresh import of everything
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_upgrade_in_child, args=(url, barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    failed = [detail for status, detail in outcomes if status != "ok"]
    assert not failed, failed
    return sorted(v for _, versions in outcomes for v in versions)


def _applied_once(wh: Warehouse) -> None:
    rows = wh.query("SELECT version, count(*) FROM cdp.schema_migrations GROUP BY version ORDER BY version")
    assert rows == [(v, 1) for v in range(1, latest_version() + 1)]
    assert current_version(wh) == latest_version()


@pytest.mark.postgres
def test_processes_upgrading_a_fresh_postgres_at_once_all_succeed(pg_empty_url: str) -> None:
    applied = _upgrade_in_processes(pg_empty_url)
    assert applied == list(range(1, latest_version() + 1))  # every migration by exactly one process
    wh = open_warehouse(WarehouseSettings(url=pg_empty_url))
    try:
        _applied_once(wh)
        assert check(wh) == latest_version()
    finally:
        wh.close()


@pytest.mark.postgres
def test_processes_upgrading_an_older_postgres_at_once_all_succeed(pg_empty_url: str) -> None:
    wh = open_warehouse(WarehouseSettings(url=pg_empty_url))
    try:
        _leave_at(wh, 3)
        assert current_version(wh) == 3
        applied = _upgrade_in_processes(pg_empty_url)
        assert applied == list(range(4, latest_version() + 1))
        _applied_once(wh)
    finally:
        wh.close()


def test_connections_upgrading_a_fresh_duckdb_at_once_all_succeed(tmp_path: Any) -> None:
    wh = open_warehouse(WarehouseSettings(url=str(tmp_path / "wh.duckdb")))
    forks = [wh.fork() for _ in range(4)]
    barrier = threading.Barrier(len(forks), timeout=30)
    applied: list[int] = []
    errors: list[BaseException] = []

    def run(f: Warehouse) -> None:
        try:
            barrier.wait()
            applied.extend(m.version for m in upgrade(f))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in forks]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sorted(applied) == list(range(1, latest_version() + 1))
        _applied_once(wh)
    finally:
        for f in forks:
            f.close()
        wh.close()


def _schemas(wh: Warehouse) -> set[str]:
    return {r[0] for r in wh.query("SELECT schema_name FROM information_schema.schemata")}


def test_check_on_an_empty_warehouse_says_run_init_and_creates_nothing(empty_warehouse_url: str) -> None:
    wh = open_warehouse(WarehouseSettings(url=empty_warehouse_url))
    try:
        with pytest.raises(SchemaError) as caught:
            check(wh)
        message = str(caught.value)
        assert f"at {wh.display_url} is at schema version 0" in message
        assert f"needs {latest_version()}: run `ordersync init`" in message
        assert "cdp" not in _schemas(wh)
    finally:
        wh.close()


def test_check_on_an_older_warehouse_says_run_init_and_changes_nothing(empty_warehouse_url: str) -> None:
    wh = open_warehouse(WarehouseSettings(url=empty_warehouse_url))
    try:
        _leave_at(wh, 2)
        with pytest.raises(
            SchemaError, match=rf"schema version 2; this ordersync needs {latest_version()}: run `ordersync init`"
        ):
            check(wh)
        assert current_version(wh) == 2
        assert [m.version for m in upgrade(wh)] == list(range(3, latest_version() + 1))
        assert check(wh) == latest_version()
    finally:
        wh.close()


def test_a_newer_schema_is_refused_by_check_and_upgrade(warehouse: Warehouse) -> None:
    newer = latest_version() + 1
    warehouse.execute("INSERT INTO cdp.schema_migrations VALUES (?, 'from_the_future', now())", (newer,))
    expected = rf"schema version {newer} is newer than this ordersync's {latest_version()}; upgrade ordersync"
    with pytest.raises(SchemaError, match=expected):
        check(warehouse)
    with pytest.raises(SchemaError, match=expected):
        upgrade(warehouse)
    assert current_version(warehouse) == newer


def test_the_migration_lock_is_released_after_a_failure(warehouse: Warehouse) -> None:
    warehouse.execute("INSERT INTO cdp.schema_migrations VALUES (?, 'from_the_future', now())", (latest_version() + 1,))
    with pytest.raises(SchemaError):
        upgrade(warehouse)
    warehouse.execute("DELETE FROM cdp.schema_migrations WHERE version > ?", (latest_version(),))
    other = warehouse.fork()
    try:
        done = threading.Event()
        t = threading.Thread(target=lambda: (upgrade(other), done.set()))
        t.start()
        t.join(20)
        assert done.is_set()  # the lock was free
    finally:
        other.close()


#: One row for each table whose key 0010 widened to hold tenant_id (columns left out take defaults).
_KEYED_ROWS = {
    "sync_runs": "INSERT INTO cdp.sync_runs (run_id, tenant_id, mode, status, started_at, lease_token) "
    "VALUES ('run-1', 7, 'full', 'succeeded', now(), 3)",
    "quarantine": "INSERT INTO cdp.quarantine (tenant_id, source, reason, raw, quarantined_at, raw_hash) "
    "VALUES (7, 'push', 'bad', '{', now(), 'h1')",
    "discrepancies": "INSERT INTO cdp.discrepancies (tenant_id, run_id, order_date, source_orders, source_total, "
    "warehouse_orders, warehouse_total, found_at) VALUES (7, 'run-1', DATE '2026-01-02', 2, 10.5, 1, 5.25, now())",
    "hook_inbox": "INSERT INTO cdp.hook_inbox (tenant_id, order_id, body, received_at) VALUES (7, 'o1', '{}', now())",
    "landing_batches": "INSERT INTO cdp.landing_batches (tenant_id, source, rows, landed_at, seq, committed_at) "
    "VALUES (7, 'pull', 3, now(), 1, now())",
    "revision_notices": "INSERT INTO cdp.revision_notices (notice_id, tenant_id, order_date, currency_code, "
    "revenue_before, revenue_after, delta, orders_changed, revised_at) "
    "VALUES ('n1', 7, DATE '2026-01-02', 'BRL', 1, 2, 1, 1, now())",
}


def test_tenant_keys_carry_every_row_forward(empty_warehouse_url: str) -> None:
    """0010 rebuilds (DuckDB) or re-keys (PostgreSQL) six tables: their rows, ids and sequences stay."""
    wh = open_warehouse(WarehouseSettings(url=empty_warehouse_url))
    try:
        _leave_at(wh, 9)
        for sql in _KEYED_ROWS.values():
            wh.execute(sql)
        before = {t: wh.query(f"SELECT * FROM cdp.{t}") for t in _KEYED_ROWS}
        assert [m.version for m in upgrade(wh)] == list(range(10, latest_version() + 1))
        assert {t: wh.query(f"SELECT * FROM cdp.{t}") for t in _KEYED_ROWS} == before
        # the sequences still feed the ids, and the keys still refuse a duplicate
        wh.execute(_KEYED_ROWS["hook_inbox"])
        assert wh.scalar("SELECT max(notification_id) FROM cdp.hook_inbox") == 2
        with pytest.raises(WarehouseError, match=r"(?i)duplicate|unique|primary key"):
            wh.execute(_KEYED_ROWS["sync_runs"])
    finally:
        wh.close()
