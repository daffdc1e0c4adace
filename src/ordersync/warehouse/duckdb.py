"""DuckDB: the embedded default. One writing process per file, any number of connections in it."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from ordersync.config import DEFAULT_DUCKDB_MEMORY_LIMIT
from ordersync.errors import (
    ConfigError,
    ConnectionLostError,
    NotFoundError,
    TransientWarehouseError,
    WarehouseError,
    WarehouseLockedError,
)
from ordersync.warehouse.base import APPEND_VERSIONS, APPEND_VERSIONS_IN_BATCH, Warehouse, duckdb_path, version_key
from ordersync.warehouse.translate import MISSING_SCHEMA_HINT, disk_full_hint, duckdb_error_kind, make_error

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa


@functools.cache
def _landing_schema() -> pa.Schema:
    """The Arrow shape of a landing batch (pyarrow is imported when a command first lands)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("tenant_id", pa.int32()),
            ("order_id", pa.string()),
            ("event_time", pa.timestamp("us", tz="UTC")),
            ("event_ingested_at", pa.timestamp("us", tz="UTC")),
            ("order_date", pa.date32()),
            ("creation_date", pa.timestamp("us", tz="UTC")),
            ("status", pa.string()),
            ("total_value", pa.decimal128(18, 2)),
            ("currency_code", pa.string()),
            ("sales_channel", pa.string()),
            ("customer_id", pa.string()),
            ("customer_email", pa.string()),
            ("customer_name", pa.string()),
            ("payload", pa.string()),
            ("payload_hash", pa.string()),
            ("source", pa.string()),
            ("run_id", pa.string()),
            ("customer_document", pa.string()),
            ("customer_document_type", pa.string()),
            ("customer_phone", pa.string()),
        ]
    )


#: Which versions of these orders were committed with a landing id above the first parameter.
#: Landing ids grow with insertion order, so DuckDB's zone maps skip every older row group.
_COMMITTED = """
SELECT tenant_id, order_id, payload_hash FROM cdp.orders_landing
WHERE landing_id > ?
  AND tenant_id IN (SELECT unnest(CAST(? AS INTEGER[])))
  AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))
"""
_MAX_LANDING_ID = "SELECT coalesce(max(landing_id), 0) FROM cdp.orders_landing"


@dataclass(eq=False)
class _Shared:
    """Locks shared by every connection to one database file in this process."""

    #: held by a connection from its first insert_landing until its transaction ends
    landing: threading.Lock = field(default_factory=threading.Lock)
    migration: threading.Lock = field(default_factory=threading.Lock)
    #: set by defer_checkpoints: the WAL size (MB) past which DuckDB checkpoints at a commit
    checkpoint_wal_mb: int | None = None
    #: the memory limit between builds when not the connections' own (set by serve)
    memory_limit: str | None = None
    #: builds running now (dbt inside this process), each with DuckDB's default memory limit
    builds: int = 0
    builds_guard: threading.Lock = field(default_factory=threading.Lock)


_SHARED: dict[str, _Shared] = {}
_SHARED_GUARD = threading.Lock()


def _in_memory(path: str) -> bool:
    return not path or path.startswith(":memory:")


def _shared_for(path: str) -> _Shared:
    if _in_memory(path):
        return _Shared()  # a new database per connect(); its forks get it passed on
    with _SHARED_GUARD:
        return _SHARED.setdefault(os.path.realpath(path), _Shared())


class DuckDBWarehouse(Warehouse):
    """Several connections of one process land at once (fork() gives each its own cursor).

    DuckDB's transactions read a snapshot taken at their first table access and have no unique
    index here, so a check inside the transaction cannot see a version another connection
    committed meanwhile. insert_landing therefore takes a lock shared by every connection to the
    file and holds it until its transaction ends, checks committed versions through a separate
    cursor that always reads the latest commit, and remembers the versions its own transaction
    landed so far.
    """

    dialect = "duckdb"
    concurrent_writers = False
    byte_order = ""  # DuckDB compares text by bytes
    now_sql = "get_current_timestamp()"  # the transaction's start inside one (DuckDB has no clock_timestamp)
    #: seconds insert_landing waits for another connection's landing transaction to end
    landing_lock_timeout: ClassVar[float] = 300.0

    def __init__(
        self,
        url: str,
        memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
        con: duckdb.DuckDBPyConnection | None = None,
        *,
        shared: _Shared | None = None,
        read_only: bool = False,
        threads: int | None = None,
    ) -> None:
        super().__init__(url)
        self.path = duckdb_path(url)
        self.memory_limit = memory_limit
        self.threads = threads
        # an in-memory database cannot be opened read-only (there is nothing to read)
        self.read_only = read_only and not _in_memory(self.path)
        self._shared = shared or _shared_for(self.path)
        self._depth = 0
        self._holds_landing = False
        self._own: set[tuple[Any, Any, Any]] = set()  # versions this transaction has landed so far
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._lost = False
        self._closed = False
        self.con = con if con is not None else self._connect()

    # -- connection ----------------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.read_only and not os.path.isfile(self.path):
            raise NotFoundError(
                f"there is no warehouse at {self.path}: run `ordersync init` to create one, or name the "
                "existing one with --warehouse (or ORDERSYNC_WAREHOUSE)"
            )
        try:
            con = duckdb.connect(self.path, read_only=self.read_only, config={"memory_limit": self.memory_limit})
            con.execute("SET TimeZone = 'UTC'")
            if self.threads is not None:
                # set, not passed to connect(): every connection of the process's instance (dbt's
                # too) must be opened with the same configuration, and this one is the instance's
                con.execute(f"SET threads = {int(self.threads)}")
            self._apply_checkpoint_threshold(con)
            return con
        except duckdb.IOException as exc:
            if any(m in str(exc).lower() for m in ("could not set lock", "conflicting lock")):
                raise WarehouseLockedError(
                    f"the DuckDB file {self.path} is open in another process (DuckDB allows one writer); "
                    "stop that process first, or use PostgreSQL (--warehouse postgresql://...) "
                    "to run several workers at once"
                ) from exc
            raise self._translate(exc, f"cannot open {self.path}") from exc
        except duckdb.Error as exc:
            raise self._translate(exc, f"cannot open {self.path}") from exc

    def _apply_checkpoint_threshold(self, con: duckdb.DuckDBPyConnection) -> None:
        mb = self._shared.checkpoint_wal_mb
        if mb is not None:
            con.execute(f"SET GLOBAL checkpoint_threshold = '{int(mb)}MB'")  # an int of ours, not outside text

    def defer_checkpoints(self, wal_mb: int) -> None:
        """Let the WAL grow to `wal_mb` before a commit checkpoints (DuckDB's default, 16 MB, makes
        some commit pay for a checkpoint every few thousand versions): a long-running process that
        calls checkpoint() from a loop of its own keeps the cost out of its writes. Every connection
        this process opens to the file from now on keeps the setting (a build closes them all)."""
        self._shared.checkpoint_wal_mb = wal_mb
        try:
            self._apply_checkpoint_threshold(self.con)
        except duckdb.Error as exc:
            raise self._translate(exc) from exc

    @contextmanager
    def building(self) -> Iterator[None]:
        """While dbt builds in this process. dbt-duckdb connects with this connection's configuration
        (dbt_target's config_options), so it joins this process's database instance instead of
        needing the file to itself: other connections keep writing during a build. The instance's
        memory limit is DuckDB's default while any build runs (a build needs more than landing's
        buffer pool), then the configured one again."""
        shared = self._shared
        with shared.builds_guard:
            shared.builds += 1
            if shared.builds == 1:
                self._set_memory_limit(None)
        try:
            yield
        finally:
            with shared.builds_guard:
                shared.builds -= 1
                if shared.builds == 0:
                    self._set_memory_limit(shared.memory_limit or self.memory_limit)

    def hold_memory(self, limit: str) -> None:
        """Keep DuckDB's buffer pool at `limit` for the rest of the process (between builds): a
        long-running process that defers checkpoints holds what landed since the last one there,
        and a pool it fills leaves a commit unable to finish. Checked by DuckDB as it is set."""
        self._shared.memory_limit = limit
        with self._shared.builds_guard:
            if self._shared.builds == 0:
                try:
                    self.con.execute(_memory_limit_sql(limit))
                except duckdb.Error as exc:
                    raise ConfigError(f"duckdb_memory_limit = {limit!r} is not a size DuckDB takes: {exc}") from exc

    def _set_memory_limit(self, limit: str | None) -> None:
        try:
            self.con.execute(_memory_limit_sql(limit))
            if limit is not None:
                self._pool_beside_indexes()
        except duckdb.Error as exc:  # e.g. more memory in use than the lower limit: the next build ends it
            log.warning("DuckDB's memory limit stays as it is: %s", exc)

    def _pool_beside_indexes(self) -> None:
        """Raise the limit just set by what the tables' indexes hold: DuckDB never evicts index memory,
        so once a build or a customers run has loaded the indexes (the customer tables' keys: 45 MB at
        30,000 customers) a limit below it leaves the next statement no room at all."""
        row = self.con.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'").fetchone()
        held = int(row[0]) if row else 0
        shown = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        pool = duckdb_size(str(shown[0])) if shown else None
        if held and pool is not None:
            self.con.execute(f"SET memory_limit = '{pool + held} bytes'")

    def checkpoint(self) -> None:
        """Write the WAL into the file now (the caller makes sure no transaction of its own is open)."""
        self.execute("CHECKPOINT")

    def _translate(self, exc: duckdb.Error, context: str = "") -> WarehouseError:
        message = str(exc)
        kind = duckdb_error_kind([c.__name__ for c in type(exc).__mro__], message)
        if kind is ConnectionLostError:
            self._lost = True
        missing = isinstance(exc, duckdb.CatalogException) and "does not exist" in message
        hint = disk_full_hint(message, os.path.dirname(os.path.abspath(self.path))) or (
            MISSING_SCHEMA_HINT if missing else None
        )
        return make_error(kind, "DuckDB", message, context=context, hint=hint)

    @property
    def broken(self) -> bool:
        return self._lost or self._closed

    def reopen(self) -> None:
        self._drop_connection()
        self.con = self._connect()
        self._lost = self._closed = False

    def _drop_connection(self) -> None:
        self._release_landing()
        self._depth = 0
        for con in (self._reader, self.con):
            if con is not None:
                with suppress(duckdb.Error):
                    con.close()
        self._reader = None

    def close(self) -> None:
        self._drop_connection()
        self._closed = True

    def fork(self) -> DuckDBWarehouse:
        # A cursor is a new connection to the same database instance: one process, many writers.
        try:
            cursor = self.con.cursor()
        except duckdb.Error as exc:
            raise self._translate(exc) from exc
        return DuckDBWarehouse(
            self.url, self.memory_limit, con=cursor, shared=self._shared, read_only=self.read_only, threads=self.threads
        )

    # -- statements ----------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.con.execute(sql, list(params))
        except duckdb.Error as exc:
            raise self._translate(exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._query_with_columns(sql, params)[1]

    def _query_with_columns(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.con.execute(sql, list(params))
            cols = [d[0] for d in cur.description or []]
            return cols, cur.fetchall()
        except duckdb.Error as exc:
            raise self._translate(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._end("ROLLBACK")
            raise
        try:
            self._end("COMMIT", check=True)
        except WarehouseError:
            self._end("ROLLBACK")  # a failed commit may leave the transaction open
            raise

    def _end(self, statement: str, check: bool = False) -> None:
        """COMMIT or ROLLBACK, then let other connections land (they now see what this committed)."""
        self._depth = 0
        try:
            self.execute(statement)
        except WarehouseError:
            if check:
                raise
            # a rollback that fails (connection gone, nothing open) must not hide the first error
        finally:
            self._release_landing()

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        with self._shared.migration:
            yield

    # -- landing -------------------------------------------------------------------------------
    def insert_landing(
        self,
        rows: Sequence[tuple[Any, ...]],
        *,
        known_new: bool = False,
        checked_after: int | None = None,
        batch_id: int | None = None,
    ) -> int:
        if not rows:
            return 0
        self._take_landing()
        try:
            if known_new and checked_after is None:
                new, keys = list(rows), None
            else:
                new, keys = self._new_versions(rows, checked_after if known_new else None)
            inserted = self._insert(new, batch_id) if new else 0
            if self._depth:
                self._own.update(keys if keys is not None else map(version_key, new))
            return inserted
        finally:
            if not self._depth:
                self._release_landing()

    def max_landing_id(self) -> int:
        # Exact for what this connection sees: landing ids are handed out under the landing lock
        # and committed in that order, so nobody will commit a smaller one later.
        return int(self.scalar(_MAX_LANDING_ID) or 0)

    def _take_landing(self) -> None:
        if self._holds_landing:
            return
        if not self._shared.landing.acquire(timeout=self.landing_lock_timeout):
            raise TransientWarehouseError(
                f"DuckDB: another connection of this process has been landing into {self.path} for over "
                f"{self.landing_lock_timeout:g} s (transient: retry)"
            )
        self._holds_landing = True

    def _release_landing(self) -> None:
        self._own.clear()
        if self._holds_landing:
            self._holds_landing = False
            self._shared.landing.release()

    def _fresh(self) -> duckdb.DuckDBPyConnection:
        """A cursor outside any transaction: each statement reads the latest commit."""
        if self._reader is None:
            self._reader = self.con.cursor()
        return self._reader

    def _new_versions(
        self, rows: Sequence[tuple[Any, ...]], after: int | None
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, Any, Any]]]:
        """The rows whose version is in neither the batch before them, this transaction, nor
        what is committed (with a landing id above `after`, when given); and their versions."""
        seen = set(self._own)
        new: list[tuple[Any, ...]] = []
        keys: list[tuple[Any, Any, Any]] = []
        for row in rows:
            key = version_key(row)
            if key not in seen:
                seen.add(key)
                new.append(row)
                keys.append(key)
        if not new:
            return new, keys
        tenants = sorted({k[0] for k in keys if isinstance(k[0], int)})
        orders = sorted({k[1] for k in keys if isinstance(k[1], str)})
        try:
            committed = set(self._fresh().execute(_COMMITTED, [after or 0, tenants, orders]).fetchall())
        except duckdb.Error as exc:
            raise self._translate(exc, "landing failed") from exc
        if not committed:
            return new, keys
        kept = [(r, k) for r, k in zip(new, keys, strict=True) if k not in committed]
        return [r for r, _ in kept], [k for _, k in kept]

    def _insert(self, rows: Sequence[tuple[Any, ...]], batch_id: int | None) -> int:
        table = _arrow(list(zip(*rows, strict=True)), _landing_schema())
        try:
            self.con.register("landing_stage", table)
            try:
                if batch_id is None:
                    inserted = self.con.execute(APPEND_VERSIONS).fetchall()
                else:
                    inserted = self.con.execute(APPEND_VERSIONS_IN_BATCH, [batch_id]).fetchall()
            finally:
                with suppress(duckdb.Error):
                    self.con.unregister("landing_stage")
        except duckdb.Error as exc:
            raise self._translate(exc, "landing failed") from exc
        return int(inserted[0][0]) if inserted else 0

    def dbt_target(self) -> dict[str, Any]:
        return {
            "type": "duckdb",
            "path": os.path.abspath(self.path),
            "schema": "cdp",
            "threads": 1,
            # the configuration this process's connections were opened with: dbt shares their instance
            "config_options": {"memory_limit": self.memory_limit},
            "settings": {"TimeZone": "UTC"},
        }


#: how DuckDB shows a size (current_setting('memory_limit')): '45.7 MiB', '0 bytes'
_SHOWN_SIZE = re.compile(r"^\s*([0-9.]+)\s*(bytes|KiB|MiB|GiB|TiB|PiB)\s*$")
_SHOWN_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}


def duckdb_size(shown: str) -> int | None:
    """Bytes of a size as DuckDB prints it; None for anything else."""
    m = _SHOWN_SIZE.match(shown)
    return int(float(m[1]) * _SHOWN_UNITS[m[2]]) if m else None


def _memory_limit_sql(limit: str | None) -> str:
    """SET (None: back to DuckDB's default) the instance's memory limit. `limit` is a setting of
    ordersync's, not outside text; DuckDB refuses what is not a size."""
    if limit is None:
        return "RESET GLOBAL memory_limit"
    quoted = limit.replace("'", "''")
    return f"SET GLOBAL memory_limit = '{quoted}'"


def _arrow(columns: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    # Arrow's default pool (jemalloc) keeps what it freed for reuse; a batch's copy should go back
    # to the system as soon as DuckDB has taken it (see ordersync.memory).
    pool = pa.system_memory_pool()
    try:
        return pa.Table.from_arrays(
            [pa.array(col, type=f.type, memory_pool=pool) for f, col in zip(schema, columns, strict=True)],
            schema=schema,
        )
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise WarehouseError(f"DuckDB: landing failed: a row does not fit cdp.orders_landing: {exc}") from exc
