"""Advisory locks: every key ordersync takes, and the one way to take each kind.

On PostgreSQL, processes take turns on `pg_advisory_*` locks keyed by the registry below (each key
is eight ASCII letters read as one 64-bit integer, so a key says what it guards in a lock listing).
DuckDB allows one writing process, so there the same turns are taken on a process-wide lock per
database file (`local_lock`), and the advisory helpers do nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import IntEnum

from ordersync.errors import WarehouseError
from ordersync.warehouse.base import Warehouse, duckdb_path


class LockKey(IntEnum):
    """The registry of advisory lock keys (unique; a test checks they spell their names)."""

    #: held while migrations run ("ordrsync")
    MIGRATIONS = 0x6F72_6472_7379_6E63
    #: held for a whole build ("ordbuild")
    BUILD = 0x6F72_6462_7569_6C64
    #: serializes ledger seals, per transaction ("ordsledg")
    SEAL = 0x6F72_6473_6C65_6467
    #: held by a notice delivery round ("ordnotic")
    DELIVERY = 0x6F72_646E_6F74_6963
    #: held by a customer event delivery round ("ordcuevt")
    CUSTOMER_EVENTS = 0x6F72_6463_7565_7674
    #: serializes refreshes of the tenant summaries, per transaction ("ordsumry")
    SUMMARIES = 0x6F72_6473_756D_7279


@contextmanager
def session_lock(wh: Warehouse, key: LockKey) -> Iterator[None]:
    """Hold `key` on `wh`'s connection while the block runs, waiting for it (a session lock: the
    block may run its own transactions). A no-op on DuckDB."""
    if wh.dialect != "postgres":
        yield
        return
    wh.execute("SELECT pg_advisory_lock(?)", (int(key),))
    try:
        yield
    finally:
        with suppress(WarehouseError):  # a lost connection has dropped the lock already
            wh.execute("SELECT pg_advisory_unlock(?)", (int(key),))


@contextmanager
def try_session_lock(wh: Warehouse, key: LockKey) -> Iterator[bool]:
    """True while the block holds `key` on `wh`'s connection, False when another session holds it
    (never waits). Always True on DuckDB."""
    if wh.dialect != "postgres":
        yield True
        return
    held = bool(wh.scalar("SELECT pg_try_advisory_lock(?)", (int(key),)))
    try:
        yield held
    finally:
        if held:
            with suppress(WarehouseError):  # closing the connection drops the lock anyway
                wh.execute("SELECT pg_advisory_unlock(?)", (int(key),))


def transaction_lock(wh: Warehouse, key: LockKey) -> None:
    """Take `key` until the current transaction ends (call inside one). A no-op on DuckDB."""
    if wh.dialect == "postgres":
        wh.execute("SELECT pg_advisory_xact_lock(?)", (int(key),))


_LOCAL: dict[tuple[str, str], threading.RLock] = {}
_LOCAL_GUARD = threading.Lock()


def local_lock(wh: Warehouse, purpose: str) -> threading.RLock | None:
    """The process-wide lock for `purpose` on a single-writer warehouse file (the same object for
    every connection to that file); None where writers are many (they use advisory locks)."""
    if wh.concurrent_writers:
        return None
    key = (purpose, os.path.abspath(duckdb_path(wh.url)))
    with _LOCAL_GUARD:
        return _LOCAL.setdefault(key, threading.RLock())


@contextmanager
def holding(lock: threading.RLock | None) -> Iterator[None]:
    """Hold `lock` while the block runs; nothing when it is None."""
    if lock is None:
        yield
        return
    with lock:
        yield
