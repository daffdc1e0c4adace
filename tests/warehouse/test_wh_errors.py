"""Driver errors come out of the warehouse as ordersync's types, decided by what the caller should do.

The tables are checked for completeness against the drivers' own exception classes; then the real
thing on both backends: syntax errors, constraint violations, a serialization failure and a lock
timeout between two PostgreSQL connections, a killed session, a DuckDB conflict between two cursors.
"""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import psycopg
import psycopg.errors
import pytest

from ordersync.config import WarehouseSettings
from ordersync.errors import ConnectionLostError, TransientWarehouseError, WarehouseError
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.postgres import PostgresWarehouse
from ordersync.warehouse.translate import (
    DUCKDB_ERRORS,
    PG_SQLSTATE_CLASSES,
    PSYCOPG_NO_SQLSTATE,
    duckdb_error_kind,
    pg_error_kind,
)

LOST, TRANSIENT, PERMANENT = ConnectionLostError, TransientWarehouseError, WarehouseError
RowFactory = Callable[..., tuple[object, ...]]


def _names(cls: type) -> list[str]:
    return [c.__name__ for c in cls.__mro__]


# --- the tables ---------------------------------------------------------------------------------
def _psycopg_classes() -> list[type[psycopg.Error]]:
    return [
        c
        for _, c in inspect.getmembers(psycopg.errors, inspect.isclass)
        if issubclass(c, psycopg.Error) and not c.__name__.startswith("_")
    ]


def test_every_sqlstate_class_postgresql_defines_has_a_decision() -> None:
    classes = {c.sqlstate[:2] for c in _psycopg_classes() if c.sqlstate}
    assert len(classes) > 35  # psycopg knows every class of PostgreSQL's errcodes
    assert classes <= PG_SQLSTATE_CLASSES.keys(), classes - PG_SQLSTATE_CLASSES.keys()


def test_every_psycopg_error_without_sqlstate_has_a_decision() -> None:
    for cls in _psycopg_classes():
        if not cls.sqlstate:
            assert cls.__name__ in PSYCOPG_NO_SQLSTATE, cls


def test_every_duckdb_exception_class_has_a_decision() -> None:
    classes = [
        c for _, c in inspect.getmembers(duckdb, inspect.isclass) if issubclass(c, (duckdb.Error, duckdb.Warning))
    ]
    assert len(classes) > 25
    assert {c.__name__ for c in classes} <= DUCKDB_ERRORS.keys()


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("40001", TRANSIENT),  # serialization_failure
        ("40P01", TRANSIENT),  # deadlock_detected
        ("55P03", TRANSIENT),  # lock_not_available
        ("53100", TRANSIENT),  # disk_full
        ("53200", TRANSIENT),  # out_of_memory
        ("57014", TRANSIENT),  # query_canceled (statement_timeout)
        ("57P01", LOST),  # admin_shutdown (pg_terminate_backend)
        ("57P02", LOST),  # crash_shutdown
        ("57P03", LOST),  # cannot_connect_now
        ("08006", LOST),  # connection_failure
        ("08003", LOST),  # connection_does_not_exist
        ("25P03", LOST),  # idle_in_transaction_session_timeout
        ("42601", PERMANENT),  # syntax_error
        ("42P01", PERMANENT),  # undefined_table
        ("42703", PERMANENT),  # undefined_column
        ("23505", PERMANENT),  # unique_violation
        ("23502", PERMANENT),  # not_null_violation
        ("22P02", PERMANENT),  # invalid_text_representation
        ("22003", PERMANENT),  # numeric_value_out_of_range
        ("40002", PERMANENT),  # transaction_integrity_constraint_violation
        ("57P04", PERMANENT),  # database_dropped
        ("XX001", PERMANENT),  # data_corrupted
    ],
)
def test_sqlstates_map_to_what_the_caller_should_do(sqlstate: str, kind: type[WarehouseError]) -> None:
    cls = psycopg.errors.lookup(sqlstate)
    assert pg_error_kind(sqlstate, _names(cls), "") is kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("consuming input failed: server closed the connection unexpectedly", LOST),
        ("the connection is closed", LOST),
        ('connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused', LOST),
        (
            'connection failed: connection to server at "h", port 5432 failed: FATAL:  database "x" does not exist',
            PERMANENT,
        ),
        ('connection failed: ... failed: FATAL:  password authentication failed for user "u"', PERMANENT),
        ("connection failed: ... failed: FATAL:  the database system is starting up", LOST),
        ("connection failed: ... failed: FATAL:  sorry, too many clients already", LOST),
    ],
)
def test_psycopg_errors_without_sqlstate_by_message(message: str, kind: type[WarehouseError]) -> None:
    assert pg_error_kind(None, _names(psycopg.OperationalError), message) is kind


def test_psycopg_client_side_errors() -> None:
    assert pg_error_kind(None, _names(psycopg.errors.ConnectionTimeout), "timeout") is LOST
    assert pg_error_kind(None, _names(psycopg.DataError), "NUL (0x00) bytes") is PERMANENT
    assert pg_error_kind(None, _names(psycopg.ProgrammingError), "cannot adapt") is PERMANENT
    assert pg_error_kind(None, _names(psycopg.InterfaceError), "x") is PERMANENT


@pytest.mark.parametrize(
    ("cls", "message", "kind"),
    [
        (duckdb.TransactionException, "TransactionContext Error: Conflict on update!", TRANSIENT),
        (duckdb.TransactionException, 'Catalog write-write conflict on create with "x"', TRANSIENT),
        (duckdb.TransactionException, "Failed to commit: PRIMARY KEY or UNIQUE constraint violation", TRANSIENT),
        (duckdb.TransactionException, "cannot rollback - no transaction is active", PERMANENT),
        (duckdb.IOException, 'Could not write file "x.wal": No space left on device', TRANSIENT),
        (duckdb.IOException, 'Cannot open file "x": No such file or directory', PERMANENT),
        (duckdb.ConnectionException, "Connection Error: Connection already closed!", LOST),
        (duckdb.FatalException, "FATAL Error: Failed: database has been invalidated", LOST),
        (duckdb.InternalException, "INTERNAL Error: ... the database has been invalidated", LOST),
        (duckdb.InterruptException, "Interrupted!", TRANSIENT),
        (duckdb.OutOfMemoryException, "could not allocate block", TRANSIENT),
        (duckdb.ParserException, 'syntax error at or near "CONFLICT"', PERMANENT),
        (duckdb.ConstraintException, "Duplicate key violates primary key constraint", PERMANENT),
        (duckdb.ConversionException, "Could not convert string 'x' to INT32", PERMANENT),
        (duckdb.CatalogException, "Table with name t does not exist!", PERMANENT),
    ],
)
def test_duckdb_errors_map_to_what_the_caller_should_do(
    cls: type[duckdb.Error], message: str, kind: type[WarehouseError]
) -> None:
    assert duckdb_error_kind(_names(cls), message) is kind


# --- the real thing, both backends ------------------------------------------------------------
def test_a_syntax_error_is_permanent(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError) as caught:
        warehouse.execute("SELEC 1")
    assert type(caught.value) is WarehouseError
    assert isinstance(caught.value.__cause__, (psycopg.Error, duckdb.Error))
    assert warehouse.scalar("SELECT 41 + 1") == 42  # the connection is still good


def test_a_constraint_violation_is_permanent_and_rolls_the_transaction_back(warehouse: Warehouse) -> None:
    add = "INSERT INTO cdp.tenants (tenant_name, account, base_url, created_at) VALUES (?, 'a', 'u', now())"
    warehouse.execute(add, ("dup",))
    with pytest.raises(WarehouseError) as caught, warehouse.transaction():
        warehouse.execute(add, ("other",))
        warehouse.execute(add, ("dup",))
    assert type(caught.value) is WarehouseError
    assert warehouse.scalar("SELECT count(*) FROM cdp.tenants") == 1
    assert not warehouse.broken


def test_a_missing_table_says_to_run_init(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="ordersync init") as caught:
        warehouse.query("SELECT * FROM cdp.no_such_table")
    assert type(caught.value) is WarehouseError


def test_a_closed_connection_is_lost_and_reopen_brings_it_back(warehouse: Warehouse) -> None:
    warehouse.execute("CREATE TABLE cdp.kept (x INTEGER)")
    warehouse.execute("INSERT INTO cdp.kept VALUES (7)")
    assert not warehouse.broken
    warehouse.close()
    assert warehouse.broken
    with pytest.raises(ConnectionLostError, match="reopen"):
        warehouse.query("SELECT x FROM cdp.kept")
    warehouse.reopen()
    assert not warehouse.broken
    assert warehouse.scalar("SELECT x FROM cdp.kept") == 7
    with warehouse.transaction():
        warehouse.execute("INSERT INTO cdp.kept VALUES (8)")
    assert warehouse.scalar("SELECT sum(x) FROM cdp.kept") == 15


# --- PostgreSQL: two sessions -------------------------------------------------------------------
@pytest.fixture
def pg_pair(pg_empty_url: str) -> Iterator[tuple[Warehouse, Warehouse]]:
    a = open_warehouse(WarehouseSettings(url=pg_empty_url))
    b = a.fork()
    a.execute("CREATE SCHEMA cdp")
    a.execute("CREATE TABLE cdp.acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
    a.execute("INSERT INTO cdp.acct VALUES (1, 100), (2, 100)")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.mark.postgres
def test_a_real_serialization_failure_is_transient(pg_pair: tuple[Warehouse, Warehouse]) -> None:
    a, b = pg_pair
    with pytest.raises(TransientWarehouseError) as caught, a.transaction():
        a.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert a.scalar("SELECT balance FROM cdp.acct WHERE id = 1") == 100
        b.execute("UPDATE cdp.acct SET balance = 50 WHERE id = ?", (1,))  # commits meanwhile
        a.execute("UPDATE cdp.acct SET balance = balance + 1 WHERE id = ?", (1,))
    assert type(caught.value) is TransientWarehouseError
    assert isinstance(caught.value.__cause__, psycopg.errors.SerializationFailure)
    assert "retry" in str(caught.value)
    assert a.scalar("SELECT balance FROM cdp.acct WHERE id = 1") == 50  # rolled back, still usable


@pytest.mark.postgres
def test_a_real_deadlock_is_transient(pg_pair: tuple[Warehouse, Warehouse]) -> None:
    a, b = pg_pair
    a.execute("SET deadlock_timeout = '50ms'")
    b.execute("SET deadlock_timeout = '50ms'")
    both_locked = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def transfer(wh: Warehouse, first: int, second: int) -> None:
        try:
            with wh.transaction():
                wh.execute("UPDATE cdp.acct SET balance = balance - 1 WHERE id = ?", (first,))
                both_locked.wait()
                wh.execute("UPDATE cdp.acct SET balance = balance + 1 WHERE id = ?", (second,))
        except WarehouseError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=transfer, args=args) for args in ((a, 1, 2), (b, 2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 1, errors  # PostgreSQL cancels one of the two; the other commits
    assert type(errors[0]) is TransientWarehouseError
    assert isinstance(errors[0].__cause__, psycopg.errors.DeadlockDetected)
    assert a.scalar("SELECT sum(balance) FROM cdp.acct") == 200


@pytest.mark.postgres
def test_a_lock_timeout_is_transient(pg_pair: tuple[Warehouse, Warehouse]) -> None:
    a, b = pg_pair
    with a.transaction():
        a.execute("UPDATE cdp.acct SET balance = 0 WHERE id = 1")
        b.execute("SET lock_timeout = '50ms'")
        with pytest.raises(TransientWarehouseError) as caught:
            b.execute("UPDATE cdp.acct SET balance = 1 WHERE id = 1")
    assert isinstance(caught.value.__cause__, psycopg.errors.LockNotAvailable)
    b.execute("SET statement_timeout = '50ms'")
    with pytest.raises(TransientWarehouseError) as caught:
        b.execute("SELECT pg_sleep(2)")
    assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)


@pytest.mark.postgres
@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_killed_session_is_lost_and_reopen_works(pg_pair: tuple[Warehouse, Warehouse], in_transaction: bool) -> None:
    a, b = pg_pair
    pid = a.scalar("SELECT pg_backend_pid()")
    with pytest.raises(ConnectionLostError) as caught:
        if in_transaction:
            with a.transaction():
                a.execute("UPDATE cdp.acct SET balance = 0 WHERE id = 1")
                assert b.scalar("SELECT pg_terminate_backend(?)", (pid,)) is True
                a.execute("UPDATE cdp.acct SET balance = 0 WHERE id = 2")
        else:
            assert b.scalar("SELECT pg_terminate_backend(?)", (pid,)) is True
            a.query("SELECT 1")
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert a.broken
    a.reopen()
    assert not a.broken
    assert a.scalar("SELECT pg_backend_pid()") != pid
    assert a.scalar("SELECT sum(balance) FROM cdp.acct") == 200  # the killed transaction left nothing


@pytest.mark.postgres
def test_connection_errors_never_show_the_password(pg_server_url: str) -> None:
    secret = f"Sek{uuid.uuid4().hex[:8]}"
    base = pg_server_url.rpartition("@")[2].rpartition("/")[0]  # host:port
    with pytest.raises(WarehouseError) as missing_db:
        PostgresWarehouse(f"postgresql://postgres:{secret}%40x@{base}/no_such_db_{uuid.uuid4().hex[:6]}")
    assert type(missing_db.value) is WarehouseError  # the server answered: retrying will not help
    with pytest.raises(ConnectionLostError) as refused:
        PostgresWarehouse(f"postgresql://postgres:{secret}@127.0.0.1:1/x?connect_timeout=2")
    for exc in (missing_db.value, refused.value):
        assert secret not in str(exc)
        assert "***" in str(exc) and "check the URL" in str(exc)


def test_a_row_the_warehouse_cannot_hold_is_a_permanent_landing_error(
    warehouse: Warehouse, make_row: RowFactory
) -> None:
    bad = make_row("bad\x00id", "h") if warehouse.dialect == "postgres" else make_row("x", "h", tenant_id=2**40)
    for known_new in (False, True):
        with pytest.raises(WarehouseError) as caught, warehouse.transaction():
            warehouse.insert_landing([make_row("good", "h"), bad], known_new=known_new)
        assert type(caught.value) is WarehouseError
    assert not warehouse.broken
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == 0


# --- DuckDB: two cursors of one process ---------------------------------------------------------
def test_a_duckdb_conflict_between_two_cursors_is_transient(tmp_path: Path) -> None:
    wh = open_warehouse(WarehouseSettings(url=str(tmp_path / "wh.duckdb")))
    other = wh.fork()
    try:
        wh.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)")
        wh.execute("INSERT INTO acct VALUES (1, 100)")
        with wh.transaction():
            wh.execute("UPDATE acct SET balance = 1 WHERE id = 1")
            with pytest.raises(TransientWarehouseError) as caught, other.transaction():
                other.execute("UPDATE acct SET balance = 2 WHERE id = 1")
        assert isinstance(caught.value.__cause__, duckdb.TransactionException)
        assert "retry" in str(caught.value)
        assert other.scalar("SELECT balance FROM acct") == 1  # the first writer committed
        with other.transaction():  # and the refused one works again
            other.execute("UPDATE acct SET balance = 5 WHERE id = 1")
        assert wh.scalar("SELECT balance FROM acct") == 5
    finally:
        other.close()
        wh.close()


def test_a_full_disk_says_where_and_what_to_do() -> None:
    from ordersync.errors import TransientWarehouseError
    from ordersync.warehouse.translate import disk_full_hint, duckdb_error_kind, make_error

    message = 'Failed to commit: Could not write file "/data/wh.duckdb.wal": No space left on device'
    kind = duckdb_error_kind(["TransactionException", "Error"], message)
    error = make_error(kind, "DuckDB", message, hint=disk_full_hint(message, "/data"))
    assert isinstance(error, TransientWarehouseError)
    assert "the disk holding /data is full: free space there" in str(error)
    assert disk_full_hint("Catalog Error: Table x does not exist", "/data") is None
