"""The `ordersync` command started by forking a process that has already imported what every command
imports (ordersync's rooms, dbt, the warehouse drivers, typer and rich), instead of starting Python
again: a command then costs what it does, not the ~1 s of CPU (2.5 s with dbt) of its imports, which
the suite paid a few hundred times.

The forked process is the command as a user runs it in every way a test can see: `python -m
ordersync` run by runpy in a session of its own, in the caller's folder, with exactly the caller's
environment, its output on pipes, its exit status (a negative one when a signal ended it). What it
does not redo is importing: so nothing a test varies may be read at import time by a preloaded module
(the CLI's own modules, whose consoles read COLUMNS when imported, are not preloaded), and a command
whose environment changes how Python itself starts (a PYTHON* variable) runs as a fresh process.

One server per test process, started on first use and stopped with it (it also leaves when its parent
is gone). TESTS_FRESH_CLI=1 turns it off.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import locale
import logging
import os
import runpy
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Imported once by the server, before any fork (never a module that reads the environment at import).
PRELOAD = (
    "ordersync.facade",
    "ordersync.demo",
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "dbt.adapters.postgres",
    "duckdb",
    "psycopg",
    "typer",
    "click",
    "rich.console",
    "rich.progress",
    "rich.table",
)
#: How often the server looks for ended commands while some run (and for its parent when none do).
_POLL = 0.02
_IDLE_POLL = 1.0
_MAX_MESSAGE = 1 << 20


def enabled(env: Mapping[str, str]) -> bool:
    """Whether a command with environment `env` may be forked: not when turned off, and not when it
    sets Python's own start-up variables differently from this process."""
    if os.environ.get("TESTS_FRESH_CLI"):
        return False
    keys = {k for k in (*env, *os.environ) if k.startswith("PYTHON")}
    return all(env.get(k) == os.environ.get(k) for k in keys)


class _Server:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ordersync-fork-"))
        self.path = str(self.folder / "socket")
        self.log = (self.folder / "server.log").open("wb")
        tests = str(Path(__file__).resolve().parents[1])
        # the server writes a line on this pipe once it listens (and the pipe ends if it dies first)
        self._ready_r, ready_w = os.pipe()
        code = (
            f"import sys; sys.path.insert(0, {tests!r}); from support.forkserver import serve; "
            f"serve({self.path!r}, {ready_w})"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(ready_w,),
        )
        os.close(ready_w)
        self._ready: bool | None = None  # None: not known yet
        self._waiting = threading.Lock()
        atexit.register(self.stop)

    def connect(self, deadline: float) -> socket.socket | None:
        """A connection to the server once it listens; None when it died or never came up."""
        with self._waiting:
            if self._ready is None:
                left = max(0.0, deadline - time.monotonic())
                said = os.read(self._ready_r, 16) if select.select([self._ready_r], [], [], left)[0] else b""
                self._ready = said.startswith(b"ready")
        if not self._ready or self.proc.poll() is not None:
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            return None
        return sock

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        with contextlib.suppress(OSError):
            os.close(self._ready_r)
        with contextlib.suppress(OSError):
            os.unlink(self.path)


_server: _Server | None = None
_lock = threading.Lock()


def _connection(start_timeout: float) -> socket.socket | None:
    global _server
    with _lock:
        if _server is None or _server.proc.poll() is not None:
            _server = _Server()
        server = _server
    return server.connect(time.monotonic() + start_timeout)


class Forked:
    """A command forked by the server, with the part of subprocess.Popen's surface the suite and the
    chaos harness use: pid, args, returncode, poll, wait, send_signal, terminate, kill."""

    def __init__(self, sock: socket.socket, pid: int, args: list[str]) -> None:
        self._sock = sock
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._reading = threading.Lock()

    def poll(self) -> int | None:
        return self._collect(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _collect(self, timeout: float | None) -> int | None:
        """The exit status once the server has sent it, waiting up to `timeout` seconds (None: for
        ever). One thread reads the socket at a time (a harness kills from one thread what another
        waits for); another thread's poll meanwhile answers None, as the command still runs."""
        if not self._reading.acquire(timeout=-1 if timeout is None else timeout):
            return self.returncode
        try:
            if self.returncode is None and select.select([self._sock], [], [], timeout)[0]:
                reply = self._sock.recv(64)
                # a server gone (its test process ending) leaves its commands SIGKILLed
                self.returncode = int(reply) if reply else -signal.SIGKILL
                self._sock.close()
            return self.returncode
        finally:
            self._reading.release()


def spawn(
    args: Sequence[str],
    cwd: Path | str,
    env: Mapping[str, str],
    stdout: int,
    stderr: int,
    *,
    script: str | None = None,
    new_session: bool = True,
) -> Forked | None:
    """`python -m ordersync *args` (or the console script `script`) forked from the server with
    `stdout` and `stderr` (file descriptors, left open for the caller to close); None when the server
    cannot be had (the caller then starts a fresh process)."""
    sock = _connection(start_timeout=120)
    if sock is None:
        return None
    request = {
        "args": list(args),
        "cwd": str(cwd),
        "env": dict(env),
        "script": script,
        "new_session": new_session,
    }
    try:
        socket.send_fds(sock, [json.dumps(request).encode()], [stdout, stderr])
        reply = sock.recv(64)
    except OSError:
        reply = b""
    if not reply:
        sock.close()
        return None
    argv = [script] if script else [sys.executable, "-m", "ordersync"]
    return Forked(sock, int(reply), [*argv, *args])


def run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float, what: str
) -> subprocess.CompletedProcess[str] | None:
    """`python -m ordersync *args` forked from the server and run to its end, as support.processes.run
    runs it; None when the server cannot be had (the caller then starts a fresh process)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = spawn(args, cwd, env, out_w, err_w)
    finally:
        os.close(out_w)
        os.close(err_w)
    if proc is None:
        os.close(out_r)
        os.close(err_r)
        return None
    ends = time.monotonic() + timeout
    out, err, complete = _read(out_r, err_r, ends)
    status = proc._collect(max(0.0, ends - time.monotonic())) if complete else None
    if status is None:
        _stop(proc)
        tail = f"{_text(out)[-2000:]}\n{_text(err)[-2000:]}"
        raise AssertionError(f"{what} ran past {timeout:.0f} s and was stopped; its last output:\n{tail}")
    _kill_group(proc.pid, signal.SIGKILL)  # what it started and left running
    return subprocess.CompletedProcess(proc.args, status, _text(out), _text(err))


def _read(out_r: int, err_r: int, ends: float) -> tuple[bytes, bytes, bool]:
    """Both pipes read to their end, or as far as they got by `ends` (False)."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        try:
            while sel.get_map():
                left = ends - time.monotonic()
                if left <= 0:
                    return b"".join(chunks[out_r]), b"".join(chunks[err_r]), False
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        sel.unregister(key.fd)
        finally:
            os.close(out_r)
            os.close(err_r)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r]), True


def _stop(proc: Forked) -> None:
    """As support.processes.stop with two seconds' grace: SIGTERM to its session, then SIGKILL."""
    _kill_group(proc.pid, signal.SIGTERM)
    if proc._collect(2.0) is None:
        _kill_group(proc.pid, signal.SIGKILL)
        proc._collect(30.0)


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _text(data: bytes) -> str:
    """As subprocess' text mode reads a pipe: the locale's encoding, universal newlines."""
    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


# The server side.


def serve(path: str, ready: int) -> None:
    """Import PRELOAD, then fork a command for each request on the socket at `path`; says "ready" on
    the file descriptor `ready` once it listens."""
    for name in PRELOAD:
        importlib.import_module(name)
    # dbt's tracker calls logging.basicConfig() when imported; a command configures logging before
    # it imports dbt, so that call never adds a handler in a fresh process
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    os.rename(path + ".new", path)
    listener.listen(64)
    os.write(ready, b"ready\n")
    os.close(ready)
    running: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], _POLL if running else _IDLE_POLL)
        if ready:
            conn, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(conn, _MAX_MESSAGE, 2)
            if not message or len(fds) != 2 or threading.active_count() != 1:
                for fd in fds:
                    os.close(fd)
                conn.close()  # the client falls back to a fresh process
            else:
                pid = os.fork()
                if pid == 0:
                    _command(json.loads(message), fds, [listener, conn, *running.values()])
                for fd in fds:
                    os.close(fd)
                conn.send(str(pid).encode())
                running[pid] = conn
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            done = running.pop(pid, None)
            if done is not None:
                with contextlib.suppress(OSError):
                    done.send(str(os.waitstatus_to_exitcode(status)).encode())
                done.close()


def _command(request: dict[str, Any], fds: list[int], sockets: list[socket.socket]) -> None:
    """The forked command: never returns."""
    code = 1
    try:
        if request["new_session"]:
            os.setsid()
        for s in sockets:
            s.close()
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (fds[0], 1), (fds[1], 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.argv = [request["script"] or "ordersync", *request["args"]]
        code = _run(request["script"])
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()  # as the interpreter does on its way out
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    finally:
        os._exit(code)


def _run(script: str | None) -> int:
    """The exit status of `python -m ordersync` (or of the console script `script`, which calls the
    CLI's main), as the interpreter computes it."""
    try:
        if script:
            from ordersync.cli.main import main

            sys.exit(main())
        runpy.run_module("ordersync", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code & 0xFF
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:  # as an uncaught exception ends Python: its traceback, status 1
        traceback.print_exc()
        return 1
    return 0
