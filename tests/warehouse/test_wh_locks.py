"""warehouse.locks and the small warehouse capabilities: advisory keys, the lock helpers, byte order,
has_table and the DuckDB path of a URL."""

from __future__ import annotations

import pytest

from ordersync.warehouse import Warehouse, duckdb_path
from ordersync.warehouse.locks import LockKey, holding, local_lock, session_lock, transaction_lock, try_session_lock


def test_every_key_is_unique_and_spells_eight_ascii_letters() -> None:
    assert len({int(k) for k in LockKey}) == len(LockKey)
    for key in LockKey:
        text = int(key).to_bytes(8, "big").decode("ascii")
        assert text.isalpha() and text.startswith("ord"), (key.name, text)


def test_session_lock_is_taken_turn_by_turn(warehouse: Warehouse) -> None:
    other = warehouse.fork()
    try:
        with session_lock(warehouse, LockKey.BUILD), try_session_lock(other, LockKey.BUILD) as held:
            # on PostgreSQL the other session must wait; DuckDB's one writer takes no turns
            assert held is (warehouse.dialect != "postgres")
        with try_session_lock(other, LockKey.BUILD) as held:
            assert held
        with try_session_lock(warehouse, LockKey.BUILD) as held:
            assert held  # released when the other block ended
    finally:
        other.close()


def test_transaction_lock_ends_with_the_transaction(warehouse: Warehouse) -> None:
    other = warehouse.fork()
    try:
        with warehouse.transaction():
            transaction_lock(warehouse, LockKey.SEAL)
            with try_session_lock(other, LockKey.SEAL) as held:
                assert held is (warehouse.dialect != "postgres")
        with try_session_lock(other, LockKey.SEAL) as held:
            assert held
    finally:
        other.close()


def test_local_lock_is_one_per_file_and_purpose(warehouse: Warehouse) -> None:
    lock = local_lock(warehouse, "test")
    if warehouse.concurrent_writers:
        assert lock is None  # advisory locks do it
        with holding(lock):
            pass
        return
    other = warehouse.fork()
    try:
        assert lock is not None and local_lock(other, "test") is lock
        assert local_lock(warehouse, "another") is not lock
        with holding(lock):
            assert lock._is_owned()  # type: ignore[attr-defined]
    finally:
        other.close()


def test_has_table(warehouse: Warehouse) -> None:
    assert warehouse.has_table("schema_migrations")
    assert warehouse.has_table("tenants")
    assert not warehouse.has_table("fct_orders_never_built")
    assert not warehouse.has_table("tenants", schema="no_such_schema")


@pytest.mark.parametrize(
    ("url", "path"),
    [("ordersync.duckdb", "ordersync.duckdb"), ("duckdb:///tmp/x.duckdb", "/tmp/x.duckdb"), ("duckdb://a=b", "a=b")],
)
def test_duckdb_path(url: str, path: str) -> None:
    assert duckdb_path(url) == path


def test_byte_order_sorts_text_by_its_bytes(warehouse: Warehouse) -> None:
    words = ["b", "B", "a", "é", "Z", "_"]
    rows = warehouse.query(
        "SELECT w FROM (VALUES " + ", ".join("(?)" for _ in words) + f") AS t(w) ORDER BY w {warehouse.byte_order}",
        words,
    )
    assert [r[0] for r in rows] == sorted(words, key=lambda w: w.encode())
