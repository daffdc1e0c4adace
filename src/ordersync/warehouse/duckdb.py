"""DuckDB: the embedded default. One writing process per file."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from ordersync.config import DEFAULT_DUCKDB_MEMORY_LIMIT
from ordersync.errors import WarehouseError, WarehouseLockedError
from ordersync.warehouse.base import APPEND_VERSIONS, INSERT_NEW_VERSIONS, LANDING_COLUMNS, Warehouse

_LANDING_SCHEMA = pa.schema(
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
    ]
)


# Arrow's default pool (jemalloc) keeps what it freed for reuse; a batch's copy should go back to
# the system as soon as DuckDB has taken it (see ordersync.memory).
_POOL = pa.system_memory_pool()


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"
    concurrent_writers = False

    def __init__(
        self,
        url: str,
        memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        super().__init__(url)
        self.path = url.removeprefix("duckdb://")
        self.memory_limit = memory_limit
        self._depth = 0
        if con is not None:
            self.con = con
            return
        try:
            self.con = duckdb.connect(self.path, config={"memory_limit": memory_limit})
            self.con.execute("SET TimeZone = 'UTC'")
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseLockedError(
                    f"the DuckDB file {self.path} is open in another process (DuckDB allows one writer); "
                    "stop that process first, or use PostgreSQL (--warehouse postgresql://...) "
                    "to run several workers at once"
                ) from exc
            raise WarehouseError(f"cannot open DuckDB file {self.path}: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.con.execute(sql, list(params))
        except duckdb.Error as exc:
            raise WarehouseError(f"DuckDB: {exc}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(f"DuckDB: {exc}") from exc

    def _query_with_columns(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.con.execute(sql, list(params))
            cols = [d[0] for d in cur.description or []]
            return cols, cur.fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(f"DuckDB: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.con.execute("ROLLBACK")
            raise
        self._depth = 0
        self.con.execute("COMMIT")

    def insert_landing(self, rows: Sequence[tuple[Any, ...]], *, known_new: bool = False) -> int:
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        table = pa.Table.from_arrays(
            [
                pa.array(col, type=_LANDING_SCHEMA.field(name).type, memory_pool=_POOL)
                for name, col in zip(LANDING_COLUMNS, columns, strict=True)
            ],
            schema=_LANDING_SCHEMA,
        )
        self.con.register("landing_stage", table)
        try:
            cur = self.con.execute(APPEND_VERSIONS if known_new else INSERT_NEW_VERSIONS)
            inserted = cur.fetchone()
        except duckdb.Error as exc:
            raise WarehouseError(f"DuckDB: landing failed: {exc}") from exc
        finally:
            self.con.unregister("landing_stage")
        return int(inserted[0]) if inserted else 0

    def close(self) -> None:
        self.con.close()

    def fork(self) -> DuckDBWarehouse:
        # A cursor is a new connection to the same database instance: one process, many writers.
        return DuckDBWarehouse(self.url, self.memory_limit, con=self.con.cursor())

    def dbt_target(self) -> dict[str, Any]:
        return {
            "type": "duckdb",
            "path": os.path.abspath(self.path),
            "schema": "cdp",
            "threads": 1,
            "settings": {"TimeZone": "UTC"},
        }
