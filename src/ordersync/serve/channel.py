"""The local channel: while `ordersync serve` holds a DuckDB file (DuckDB lets one process write
it), the other commands run inside that process instead of failing on the file's lock.

serve listens on a Unix socket beside the file (or, when that path is too long for a socket, in a
private folder of the user's), created owner-only (0600, in a 0700 folder when it is not beside the
file). A command that finds the socket answering sends its arguments, working folder and environment;
serve runs the command in-process, one at a time, with the warehouse to itself (its own connection
closed meanwhile, as for a build), and sends back what it printed and its exit code.

The command runs with its caller's settings: the environment it was sent is the one its settings,
credentials and webhook URLs are read from (config.command_environ, for that command only; serve's
own threads keep reading os.environ), and its relative paths (the config file, ordersync.toml)
resolve in the caller's folder. The whole environment travels because the variables a tenant's
credentials are read from are named in the warehouse, which the caller cannot read while serve
holds it; the socket is the same user's only (0600), and the request is never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson

from ordersync.config import WarehouseSettings
from ordersync.errors import WarehouseLockedError
from ordersync.secrets import command_environ
from ordersync.warehouse import duckdb_path

#: Set in the serving process: its own commands never forward to itself.
SERVING = threading.Event()
#: Set while a command sent over the channel runs (in the serving process).
_FORWARDED: ContextVar[bool] = ContextVar("ordersync_forwarded", default=False)
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, less elsewhere
_MAX_REQUEST = 1024 * 1024


class ForwardToServe(BaseException):
    """Raised where a command would open a DuckDB file that a running serve holds: a signal to the
    CLI's entry point, not an error, so no handler on the way catches it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def forwarded() -> bool:
    """Whether the command being run was sent by another process (it runs inside serve)."""
    return _FORWARDED.get()


def socket_for(warehouse: WarehouseSettings) -> Path:
    """The channel's socket for a DuckDB warehouse."""
    return socket_path(duckdb_path(warehouse.url))


def socket_path(duckdb_file: str) -> Path:
    resolved = Path(duckdb_file).expanduser().resolve()
    beside = resolved.with_name(resolved.name + ".sock")
    if len(str(beside)) <= _MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:20]
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"ordersync-{os.getuid()}"
    return base / f"{digest}.sock"


def answering(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(path))
        except OSError:
            return False
        s.sendall(b'{"ping": true}\n')
        return s.recv(64).startswith(b'{"pong"')


def forward(path: Path, argv: list[str]) -> int:
    """Run the command in the serving process; print what it printed; its exit code."""
    request = {"argv": argv, "cwd": os.getcwd(), "columns": _columns(), "env": dict(os.environ)}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.sendall(orjson.dumps(request) + b"\n")
        reader = s.makefile("rb")
        code = 1
        for line in reader:
            message = orjson.loads(line)
            if "out" in message:
                sys.stdout.write(message["out"])
                sys.stdout.flush()
            if "err" in message:
                sys.stderr.write(message["err"])
                sys.stderr.flush()
            if "exit" in message:
                code = int(message["exit"])
        return code


def _columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return int(os.environ.get("COLUMNS", "100"))


class ChannelServer:
    """Accepts one command at a time; `run(argv)` runs it (under the serve's lock) and returns the
    exit code, printing to sys.stdout / sys.stderr, which are captured here."""

    def __init__(self, path: Path, run: Callable[[list[str]], int], lock: threading.Lock) -> None:
        self.path = path
        self.run = run
        self.lock = lock
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.path.parent.name.startswith("ordersync-"):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.path.parent, 0o700)
        if answering(self.path):
            raise WarehouseLockedError(
                f"another ordersync serve answers on {self.path} for this warehouse; stop it first"
            )
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a process that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born owner-only: no moment when others could connect
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        sock.settimeout(0.5)
        self._sock = sock
        SERVING.set()
        self._thread = threading.Thread(target=self._accept, name="serve-channel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(None)
                try:
                    self._serve_one(conn)
                except (OSError, ValueError) as exc:  # a client that went away, or sent garbage
                    with contextlib.suppress(OSError):
                        conn.sendall(orjson.dumps({"err": f"error: {exc}\n", "exit": 1}) + b"\n")

    def _serve_one(self, conn: socket.socket) -> None:
        line = conn.makefile("rb").readline(_MAX_REQUEST)
        request: dict[str, Any] = orjson.loads(line)
        if request.get("ping"):
            conn.sendall(b'{"pong": true}\n')
            return
        argv = [str(a) for a in request["argv"]]
        env = request.get("env")
        if not isinstance(env, dict):
            raise ValueError("the request carries no environment; run the same ordersync version as serve")
        out, err = io.StringIO(), io.StringIO()
        with (
            self.lock,
            command_environ({str(k): str(v) for k, v in env.items()}),
            _forwarded_command(),
            _in_folder(str(request["cwd"])),
            _columns_env(request.get("columns")),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = self.run(argv)
        conn.sendall(orjson.dumps({"out": out.getvalue(), "err": err.getvalue(), "exit": code}) + b"\n")


@contextlib.contextmanager
def _forwarded_command() -> Iterator[None]:
    token = _FORWARDED.set(True)
    try:
        yield
    finally:
        _FORWARDED.reset(token)


@contextlib.contextmanager
def _in_folder(path: str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _columns_env(columns: Any) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    if isinstance(columns, int):
        os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
