"""PostgreSQL: production, several workers at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg

from ordersync.errors import WarehouseError
from ordersync.warehouse.base import INSERT_NEW_VERSIONS, LANDING_COLUMNS, Warehouse


def _pg(sql: str) -> str:
    # internal SQL uses ? placeholders; psycopg wants %s (and literal % doubled)
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresWarehouse(Warehouse):
    dialect = "postgres"
    concurrent_writers = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            self.con = psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC")
        except psycopg.Error as exc:
            raise WarehouseError(
                f"cannot connect to PostgreSQL at {self.display_url}: {str(exc).strip()}; "
                "check the URL and that the server is running"
            ) from exc
        self._depth = 0
        self._stage_ready = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.con.execute(_pg(sql) if params else sql, list(params) or None)
        except psycopg.Error as exc:
            raise WarehouseError(f"PostgreSQL: {str(exc).strip()}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._query_with_columns(sql, params)[1]

    def _query_with_columns(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.con.execute(_pg(sql) if params else sql, list(params) or None)
            cols = [d.name for d in cur.description or []]
            return cols, cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise WarehouseError(f"PostgreSQL: {str(exc).strip()}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.con.transaction():
                yield
        finally:
            self._depth = 0

    def insert_landing(self, rows: Sequence[tuple[Any, ...]], *, known_new: bool = False) -> int:
        if not rows:
            return 0
        cols = ", ".join(LANDING_COLUMNS)
        if known_new:
            # straight into the table; the unique index still refuses a version landed twice
            try:
                with self.con.cursor() as cur, cur.copy(f"COPY cdp.orders_landing ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return len(rows)
            except psycopg.Error as exc:
                raise WarehouseError(f"PostgreSQL: landing failed: {str(exc).strip()}") from exc
        try:
            if not self._stage_ready:
                self.con.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS landing_stage ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM cdp.orders_landing WITH NO DATA"
                )
                self._stage_ready = True
            self.con.execute("TRUNCATE landing_stage")
            with self.con.cursor() as cur:
                with cur.copy(f"COPY landing_stage ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(INSERT_NEW_VERSIONS)
                return cur.rowcount
        except psycopg.Error as exc:
            raise WarehouseError(f"PostgreSQL: landing failed: {str(exc).strip()}") from exc

    def close(self) -> None:
        self.con.close()

    def fork(self) -> PostgresWarehouse:
        return PostgresWarehouse(self.url)

    def dbt_target(self) -> dict[str, Any]:
        u = urlparse(self.url)
        return {
            "type": "postgres",
            "host": u.hostname or "127.0.0.1",
            "port": u.port or 5432,
            "user": unquote(u.username or "postgres"),
            "password": unquote(u.password or ""),
            "dbname": (u.path or "/postgres").lstrip("/") or "postgres",
            "schema": "cdp",
            "threads": 2,
        }
