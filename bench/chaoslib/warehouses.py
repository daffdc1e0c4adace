"""Warehouses for trials: a DuckDB file in the trial's folder, or a fresh PostgreSQL database created
and dropped by the harness (on the shared server, or on a private cluster the harness runs itself)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from psycopg import sql

from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB
from chaoslib.secrets import PG_PASSWORD

PG_ADMIN_URL = os.environ.get("ORDERSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BIN = Path(os.environ.get("ORDERSYNC_CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def with_database(url: str, dbname: str, password: str | None = PG_PASSWORD) -> str:
    """`url` pointing at `dbname`, carrying `password` (the servers here trust local connections, so
    the password only proves it is never printed)."""
    parts = urllib.parse.urlsplit(url)
    user = urllib.parse.unquote(parts.username or "postgres")
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    auth = urllib.parse.quote(user, safe="")
    if password is not None:
        auth += ":" + urllib.parse.quote(password, safe="")
    return urllib.parse.urlunsplit((parts.scheme, f"{auth}@{host}{port}", f"/{dbname}", parts.query, ""))


class PgServer:
    """A PostgreSQL server the harness may create and drop databases on."""

    def __init__(self, admin_url: str = PG_ADMIN_URL) -> None:
        self.admin_url = admin_url

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as con:
            con.execute(statement)

    def create(self, name: str, template: str | None = None) -> str:
        _check_name(name)
        if template is None:
            self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            _check_name(template)
            clone = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            # a template must have no sessions; a just-exited CLI's may linger a moment on the server
            deadline = time.monotonic() + scaled(30)
            while True:
                try:
                    self._admin(clone)
                    break
                except psycopg.errors.ObjectInUse as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"waited {scaled(30):g} s for the sessions on {template} to end, to copy it: {exc}"
                        ) from None
                    time.sleep(0.1)
        return with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        _check_name(name)
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _check_name(name: str) -> None:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"unexpected database name {name!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL cluster of the harness's own (initdb as the postgres OS user, its own port and
    socket folder), so restarting it disturbs nobody else on the machine."""

    def __init__(self) -> None:
        # outside pytest's 0700 temp folders: the postgres user must reach its data directory
        self.root = Path(tempfile.mkdtemp(prefix="ordersync-chaos-pg-"))
        shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        try:
            self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
            self.start()
        except BaseException:
            self.stop()
            raise
        self.server = PgServer(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args]
        # a session of its own: out of time, the tool and whatever it started are SIGKILLed together
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = proc.communicate(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"waited {scaled(timeout):g} s for {tool} {' '.join(args[-1:])} to finish") from None
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {stderr.strip() or stdout.strip()}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        wait = ["-w", "-t", str(round(scaled(60)))]  # pg_ctl's own wait for the server, then ours
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), *wait, *extra, action)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every session is cut, the server is back when this returns.
        Returns how long the server was away (seconds)."""
        began = time.perf_counter()
        self._ctl("restart", "-m", "fast")
        return time.perf_counter() - began

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class WarehouseHandle:
    """One trial's warehouse. `url` is what ordersync is given (for PostgreSQL it carries a password)."""

    kind: str
    url: str
    label: str  # safe to print: a file name or a database name, never the URL
    path: Path | None = None
    server: PgServer | None = None
    dbname: str | None = None

    def drop(self) -> None:
        if self.server is not None and self.dbname is not None:
            self.server.drop(self.dbname)

    def connect(self) -> Reader:
        return Reader(self)


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def fresh(kind: str, workdir: Path, label: str, server: PgServer | None = None) -> WarehouseHandle:
    """An empty warehouse: a DuckDB file in `workdir`, or a new database on `server`."""
    if kind == DUCKDB:
        path = workdir / f"{label}.duckdb"
        return WarehouseHandle(kind, str(path), path.name, path=path)
    server = server or PgServer()
    name = new_name(f"chaos_{label}")
    return WarehouseHandle(kind, server.create(name), name, server=server, dbname=name)


def clone(template: WarehouseHandle, workdir: Path, label: str) -> WarehouseHandle:
    """A copy of a prepared warehouse (its process has exited): a file copy, or CREATE DATABASE ... TEMPLATE."""
    if template.kind == DUCKDB:
        assert template.path is not None
        path = workdir / f"{label}.duckdb"
        shutil.copyfile(template.path, path)
        wal = Path(str(template.path) + ".wal")
        if wal.exists():
            shutil.copyfile(wal, Path(str(path) + ".wal"))
        return WarehouseHandle(template.kind, str(path), path.name, path=path)
    assert template.server is not None and template.dbname is not None
    name = new_name(f"chaos_{label}")
    url = template.server.create(name, template=template.dbname)
    return WarehouseHandle(template.kind, url, name, server=template.server, dbname=name)


@contextlib.contextmanager
def dropping(handle: WarehouseHandle) -> Iterator[WarehouseHandle]:
    try:
        yield handle
    finally:
        handle.drop()


class Reader:
    """Plain SQL against a trial's warehouse, outside ordersync (DuckDB read-only, so a file a
    crashed process left behind is read as it is)."""

    def __init__(self, handle: WarehouseHandle) -> None:
        self.handle = handle
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._pg: psycopg.Connection[Any] | None = None
        if handle.kind == DUCKDB:
            self._duck = duckdb.connect(str(handle.path), read_only=True)
        else:
            self._pg = psycopg.connect(handle.url, autocommit=True, connect_timeout=10)

    def query(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._duck is not None:
            return [tuple(r) for r in self._duck.execute(query, list(params)).fetchall()]
        assert self._pg is not None
        return [tuple(r) for r in self._pg.execute(query.replace("?", "%s"), params).fetchall()]

    def scalar(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.query(query, params)
        return rows[0][0] if rows else None

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()
        if self._pg is not None:
            self._pg.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def poll(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]] | None:
    """One query on a connection of its own; None while the server is away (restarting)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as con:
            return [tuple(r) for r in con.execute(query.replace("?", "%s"), params).fetchall()]
    except psycopg.OperationalError:
        return None


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    """Call `check()` until it is truthy or `timeout` seconds pass; True when it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())
