"""PostgreSQL: production, several workers at once."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ordersync.errors import ConfigError, ConnectionLostError, WarehouseError
from ordersync.warehouse.base import LANDING_COLUMNS, Warehouse, version_key
from ordersync.warehouse.locks import LockKey, session_lock
from ordersync.warehouse.sqltext import to_pyformat
from ordersync.warehouse.translate import MISSING_SCHEMA_HINT, make_error, pg_error_kind

_COLS = ", ".join(LANDING_COLUMNS)
_VERSION_INDEX = "orders_landing_version_uq"
# The unique index makes a concurrent insert of the same version wait for the other transaction,
# then skip the row if that one committed.
_INSERT_NEW = (
    f"INSERT INTO cdp.orders_landing ({_COLS}) SELECT {_COLS} FROM landing_stage "
    "ON CONFLICT (tenant_id, order_id, payload_hash) DO NOTHING"
)
#: The same, every row stamped with the batch id in its one parameter.
_INSERT_NEW_IN_BATCH = (
    f"INSERT INTO cdp.orders_landing ({_COLS}, batch_id) SELECT {_COLS}, %s::bigint FROM landing_stage "
    "ON CONFLICT (tenant_id, order_id, payload_hash) DO NOTHING"
)
_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS landing_stage ON COMMIT DELETE ROWS AS "
    f"SELECT {_COLS} FROM cdp.orders_landing WITH NO DATA"
)

_SECRET_KEYS = frozenset({"password", "sslpassword"})
#: libpq parameters dbt-postgres passes on to its own connections, with their profile types.
_DBT_PARAMS: dict[str, Callable[[str], Any]] = {
    "sslmode": str,
    "sslcert": str,
    "sslkey": str,
    "sslrootcert": str,
    "application_name": str,
    "connect_timeout": int,
    "keepalives_idle": int,
}
#: Parameters that decide where the connection goes: the target takes libpq's resolved values.
_WHERE_PARAMS = frozenset({"host", "hostaddr", "port", "user", "password", "dbname", "passfile", "options"})
_SEARCH_PATH_OPTION = re.compile(r"^\s*(?:-c\s*|--)search_path=((?:\\\s|\S)+)\s*$")
_SAFE_PARSE_ERROR = re.compile(r'invalid (?:URI query parameter|connection option):? "[\w-]+"')


@dataclass(frozen=True)
class _Where:
    """What libpq actually connected to (after defaults, environment variables and the password file)."""

    host: str
    port: int
    user: str
    dbname: str
    password: str


def parse_conninfo(url: str) -> dict[str, str]:
    """libpq's parameters of a postgresql:// URL or a key=value string; ConfigError when invalid
    (without echoing the URL, which may hold a password)."""
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except psycopg.Error as exc:
        found = _SAFE_PARSE_ERROR.search(str(exc))
        reason = found.group(0) if found else "libpq cannot parse it"
        raise ConfigError(
            f"the warehouse URL is not a valid PostgreSQL URL or key=value connection string ({reason}); "
            "use postgresql://user:password@host:port/dbname?param=value, with @, : and % in the "
            "password written %40, %3A and %25"
        ) from exc


def mask_conninfo(url: str) -> str:
    """The URL as is when it holds no password, else its parameters with the password as ***."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "<a PostgreSQL URL that cannot be parsed>"
    if not _SECRET_KEYS & params.keys():
        return url
    return make_conninfo("", **{k: "***" if k in _SECRET_KEYS else v for k, v in params.items()})


class PostgresWarehouse(Warehouse):
    dialect = "postgres"
    concurrent_writers = True
    byte_order = 'COLLATE "C"'
    # the statement's start, not the transaction's; STABLE, so a sharded UPDATE may use it (Citus)
    now_sql = "statement_timestamp()"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._params = parse_conninfo(url)
        self._display = mask_conninfo(url)
        self._secrets = {v for k, v in self._params.items() if k in _SECRET_KEYS and v}
        own = self._params.get("options") or os.environ.get("PGOPTIONS") or ""
        self._options = f"{own} -c TimeZone=UTC".strip()
        self._depth = 0
        self._stage_ready = False
        self._lost = False
        self.con = self._connect()

    # -- connection ----------------------------------------------------------------------------
    @property
    def display_url(self) -> str:
        return self._display

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            con = psycopg.connect(self.url, autocommit=True, options=self._options)
        except psycopg.Error as exc:
            raise self._translate(exc, f"cannot connect to {self.display_url}", connecting=True) from exc
        info = con.info
        self._where = _Where(info.host, info.port, info.user, info.dbname, info.password or "")
        if info.password:
            self._secrets.add(info.password)
        return con

    def _translate(self, exc: psycopg.Error, context: str = "", *, connecting: bool = False) -> WarehouseError:
        message = str(exc)
        kind = pg_error_kind(exc.sqlstate, [c.__name__ for c in type(exc).__mro__], message)
        if not connecting and (self.con.broken or self.con.closed):
            kind = ConnectionLostError  # whatever the error said, this connection is gone
        if kind is ConnectionLostError:
            self._lost = True
        if connecting:
            hint: str | None = "check the URL and that the server is running"
        else:
            hint = MISSING_SCHEMA_HINT if exc.sqlstate in ("42P01", "3F000") else None
        return make_error(kind, "PostgreSQL", message, context=context, secrets=self._secrets, hint=hint)

    @property
    def broken(self) -> bool:
        return self._lost or self.con.broken or self.con.closed

    def reopen(self) -> None:
        with suppress(psycopg.Error):
            self.con.close()
        self._depth = 0
        self._stage_ready = False  # temporary tables died with the session
        self.con = self._connect()
        self._lost = False

    def close(self) -> None:
        with suppress(psycopg.Error):
            self.con.close()

    def fork(self) -> PostgresWarehouse:
        return PostgresWarehouse(self.url)

    # -- statements ----------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.con.execute(to_pyformat(sql) if params else sql, list(params) if params else None)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._query_with_columns(sql, params)[1]

    def _query_with_columns(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.con.execute(to_pyformat(sql) if params else sql, list(params) if params else None)
            cols = [d.name for d in cur.description or []]
            return cols, cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
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
        self._depth = 1
        try:
            with self.con.transaction():
                yield
        except psycopg.Error as exc:
            self._stage_ready = False  # a rollback undoes a temporary table created inside
            raise self._translate(exc) from exc
        except BaseException:
            self._stage_ready = False
            raise
        finally:
            self._depth = 0

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        # A session lock on this connection: the migrations take their own transactions inside it.
        with session_lock(self, LockKey.MIGRATIONS):
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
        # `checked_after` needs no work here: the unique index on the version is the check.
        if not rows:
            return 0
        # One order for every writer, so two landing the same versions wait for each other instead
        # of deadlocking.
        ordered = sorted(rows, key=lambda r: tuple(str(v) for v in version_key(r)))
        try:
            if known_new:
                try:
                    with self.con.transaction():  # a savepoint: a clash undoes only this COPY
                        self._copy("cdp.orders_landing", ordered, batch_id)
                    return len(ordered)
                except psycopg.errors.UniqueViolation as exc:
                    if exc.diag.constraint_name != _VERSION_INDEX:
                        raise
                    # another writer landed one of these versions since the caller looked
            with self.con.transaction():
                if not self._stage_ready:
                    self.con.execute(_STAGE)
                self.con.execute("TRUNCATE landing_stage")
                self._copy("landing_stage", ordered)
                # the stage is read back in the order it was written: the same lock order as COPY
                if batch_id is None:
                    inserted = self.con.execute(_INSERT_NEW).rowcount
                else:
                    inserted = self.con.execute(_INSERT_NEW_IN_BATCH, [batch_id]).rowcount
            self._stage_ready = True
            return inserted
        except psycopg.Error as exc:
            raise self._translate(exc, "landing failed") from exc

    def _copy(self, table: str, rows: Sequence[tuple[Any, ...]], batch_id: int | None = None) -> None:
        if batch_id is None:
            with self.con.cursor() as cur, cur.copy(f"COPY {table} ({_COLS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # COPY takes no constants: the batch id goes on the end of every row.
        with self.con.cursor() as cur, cur.copy(f"COPY {table} ({_COLS}, batch_id) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, batch_id))

    def max_landing_id(self) -> int:
        # The sequence's high-water mark: never below a committed landing id and read without a scan
        # (orders_landing has no index on landing_id here).
        value = self.scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM cdp.landing_id_seq")
        return int(value or 0)

    # -- dbt -----------------------------------------------------------------------------------
    def dbt_target(self) -> dict[str, Any]:
        """The dbt-postgres output reaching exactly the database this connection reached."""
        params = self._params
        refused = sorted(set(params) - _WHERE_PARAMS - _DBT_PARAMS.keys())
        if "hostaddr" in params and "host" in params:
            refused.append("hostaddr (with host)")
        search_path = _search_path(params.get("options"))
        if params.get("options") and search_path is None:
            refused.append("options (other than -c search_path=...)")
        if refused:
            raise ConfigError(
                f"the warehouse URL sets {', '.join(refused)}, which dbt-postgres cannot pass on, so dbt "
                "could build another database than the one ordersync lands into; remove "
                f"{'it' if len(refused) == 1 else 'them'} (dbt passes host, port, user, password, dbname, "
                f"{', '.join(_DBT_PARAMS)} and options=-c search_path=...)"
            )
        w = self._where
        target: dict[str, Any] = {
            "type": "postgres",
            "host": w.host,
            "port": w.port,
            "user": w.user,
            "password": w.password,
            "dbname": w.dbname,
            "schema": "cdp",
            "threads": 2,
        }
        for key, convert in _DBT_PARAMS.items():
            if key in params:
                try:
                    target[key] = convert(params[key])
                except ValueError as exc:
                    raise ConfigError(f"the warehouse URL's {key}={params[key]!r} is not a number") from exc
        if search_path:
            target["search_path"] = search_path
        return target


def _search_path(options: str | None) -> str | None:
    """The search_path set by a libpq `options` value holding only that (dbt passes nothing else)."""
    if not options:
        return None
    found = _SEARCH_PATH_OPTION.match(options)
    return found.group(1).replace("\\ ", " ") if found else None
