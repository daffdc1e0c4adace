"""One warehouse interface; DuckDB and PostgreSQL differ only in the few methods below.

Internal SQL is written once, with `?` placeholders and bound parameters, and runs on both.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

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
)


class Warehouse(ABC):
    """A connection to the warehouse, owned by one thread at a time."""

    dialect: ClassVar[str]
    #: several processes may write at once (PostgreSQL) or only one (DuckDB's file lock)
    concurrent_writers: ClassVar[bool]

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for logs and output."""
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.url)

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
    def insert_landing(self, rows: Sequence[tuple[Any, ...]], *, known_new: bool = False) -> int:
        """Append rows (LANDING_COLUMNS order) to cdp.orders_landing, skipping any version
        (tenant, order, payload_hash) already there; returns how many were new.

        `known_new`: the caller has already excluded every version landed before (the sync engine
        looks them up under the tenant's lease), so the rows are appended without that check, which
        costs more than the append itself. Must run inside transaction() so the caller can commit the
        checkpoint with it."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def fork(self) -> Warehouse:
        """Another connection to the same warehouse, for work running alongside this one."""

    @abstractmethod
    def dbt_target(self) -> dict[str, Any]:
        """The dbt profile output for this warehouse (schema cdp)."""

    def run_script(self, sql: str) -> None:
        for statement in split_statements(sql):
            self.execute(statement)


def split_statements(sql: str) -> list[str]:
    """Split a migration file on semicolons that end a line; comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


#: Plain append, for rows known to be new.
_COLS = ", ".join(LANDING_COLUMNS)
APPEND_VERSIONS = f"INSERT INTO cdp.orders_landing ({_COLS}) SELECT {_COLS} FROM landing_stage"

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
