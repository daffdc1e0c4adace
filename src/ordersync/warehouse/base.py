"""One warehouse interface; DuckDB and PostgreSQL differ only in the few methods below.

Internal SQL is written once, with `?` placeholders and bound parameters, and runs on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from ordersync.warehouse.sqltext import split_statements

__all__ = [
    "APPEND_VERSIONS",
    "APPEND_VERSIONS_IN_BATCH",
    "INSERT_NEW_VERSIONS",
    "LANDING_COLUMNS",
    "Warehouse",
    "split_statements",
    "version_key",
]

LANDING_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "order_id",
    "event_time",
    "event_ingested_at",
    "order_date",
    "creation_date",
    "status",
    "total_value",
    "currency_code",
    "sales_channel",
    "customer_id",
    "customer_email",
    "customer_name",
    "payload",
    "payload_hash",
    "source",
    "run_id",
    # added by migration 0012, after batch_id (0006): last, as in the table
    "customer_document",
    "customer_document_type",
    "customer_phone",
)


def duckdb_path(url: str) -> str:
    """The file a DuckDB warehouse URL names (a path, or duckdb://PATH), as written."""
    return url.removeprefix("duckdb://")


class Warehouse(ABC):
    """A connection to the warehouse, owned by one thread at a time.

    Every driver error comes out as ordersync's own type (see warehouse.translate):
    ConnectionLostError (call reopen(), then retry), TransientWarehouseError (retry), or
    WarehouseError (permanent)."""

    dialect: ClassVar[str]
    #: several processes may write at once (PostgreSQL) or only one (DuckDB's file lock)
    concurrent_writers: ClassVar[bool]
    #: SQL for the warehouse's clock, for times compared across hosts (leases)
    now_sql: ClassVar[str]
    #: what follows a text expression to compare it byte by byte (the dbt macro byte_order's twin),
    #: so both warehouses order versions alike
    byte_order: ClassVar[str]

    def __init__(self, url: str) -> None:
        self.url = url
        #: opened for reading only (a DuckDB file a read command opens beside another reader)
        self.read_only = False

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for logs and output."""
        return self.url

    @property
    @abstractmethod
    def broken(self) -> bool:
        """The connection is known to be unusable (lost, invalidated or closed): reopen() it."""

    @abstractmethod
    def reopen(self) -> None:
        """Close whatever is left of the connection and connect again with the same settings; an
        open transaction is lost."""

    def now(self) -> datetime:
        """The warehouse's clock (timezone-aware, UTC)."""
        value = self.scalar(f"SELECT {self.now_sql}")
        if not isinstance(value, datetime):
            raise TypeError(f"{self.now_sql} returned {value!r}")
        return value.astimezone(UTC)

    def has_table(self, name: str, schema: str = "cdp") -> bool:
        """Whether the table (or view) exists, e.g. a dbt model before its first build."""
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                (schema, name),
            )
        )

    @abstractmethod
    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held while migrations run, so one process (or connection) at a time changes the schema."""
        yield

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cols, rows = self._query_with_columns(sql, params)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    @abstractmethod
    def _query_with_columns(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        yield

    @abstractmethod
    def insert_landing(
        self,
        rows: Sequence[tuple[Any, ...]],
        *,
        known_new: bool = False,
        checked_after: int | None = None,
        batch_id: int | None = None,
    ) -> int:
        """Append rows (LANDING_COLUMNS order) to cdp.orders_landing, skipping any version
        (tenant, order, payload_hash) already there; returns how many were new. Exact when several
        connections or processes land the same version at the same moment: it is stored once.

        `batch_id`: stamped on every row landed (the landing ledger's batch, see land/ledger.py);
        without it the column is not mentioned, so this also lands into a schema older than it.

        `known_new`: the caller has already excluded every version landed up to landing id
        `checked_after` (the sync engine reads max_landing_id(), then looks them up), so the rows are
        checked only against versions landed after that, which costs far less than the full check.
        Without `checked_after` they are appended unchecked (PostgreSQL's unique index still stores
        each version once). Call inside transaction() so the caller commits the checkpoint with it."""

    @abstractmethod
    def max_landing_id(self) -> int:
        """A landing id such that every version landed later has a greater one (0 when nothing is
        landed): read it before looking up what is landed, pass it as `checked_after`."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def fork(self) -> Warehouse:
        """Another connection to the same warehouse, for work running alongside this one."""

    @abstractmethod
    def dbt_target(self) -> dict[str, Any]:
        """The dbt profile output for this warehouse (schema cdp)."""

    @contextmanager
    def building(self) -> Iterator[None]:
        """Held while dbt builds on this warehouse from this process (dbt keeps connections of its
        own: nothing of this one needs closing), and around any work of a build's size in this
        process (an as-of answer, a customers run): on DuckDB such work has the memory of a build."""
        yield

    def run_script(self, sql: str) -> None:
        for statement in split_statements(sql):
            self.execute(statement)


_KEY_AT = tuple(LANDING_COLUMNS.index(c) for c in ("tenant_id", "order_id", "payload_hash"))


def version_key(row: Sequence[Any]) -> tuple[Any, Any, Any]:
    """A landing row's version: (tenant_id, order_id, payload_hash)."""
    t, o, h = _KEY_AT
    return row[t], row[o], row[h]


#: Plain append, for rows known to be new.
_COLS = ", ".join(LANDING_COLUMNS)
APPEND_VERSIONS = f"INSERT INTO cdp.orders_landing ({_COLS}) SELECT {_COLS} FROM landing_stage"
#: The same, every row stamped with the batch id bound to its one parameter.
APPEND_VERSIONS_IN_BATCH = (
    f"INSERT INTO cdp.orders_landing ({_COLS}, batch_id) SELECT {_COLS}, CAST(? AS BIGINT) FROM landing_stage"
)

#: Landing SQL shared by both backends: new versions only, each identical payload once.
INSERT_NEW_VERSIONS = f"""
INSERT INTO cdp.orders_landing ({", ".join(LANDING_COLUMNS)})
SELECT {", ".join("s." + c for c in LANDING_COLUMNS)}
FROM (
    SELECT *, row_number() OVER (PARTITION BY tenant_id, order_id, payload_hash ORDER BY order_id) AS rn
    FROM landing_stage
) s
WHERE s.rn = 1
  AND NOT EXISTS (
    SELECT 1 FROM cdp.orders_landing l
    WHERE l.tenant_id = s.tenant_id AND l.order_id = s.order_id AND l.payload_hash = s.payload_hash
  )
"""
