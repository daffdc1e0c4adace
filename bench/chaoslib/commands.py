"""Driving ordersync as a user does: its CLI in child processes, so `kill -9` really kills.

Every command's stdout and stderr go to numbered files in the trial's `logs/` folder (the secret scan
reads them all). Credentials reach ordersync only through the environment variables a tenant names.
Every child process is waited for with a deadline (scaled by ORDERSYNC_TEST_TIMEOUT_SCALE) and is
SIGKILLed when it runs out; the runner stops whatever a trial left running (`reap`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chaoslib.deadlines import scaled
from chaoslib.secrets import APP_KEY, APP_TOKEN, KEY_ENV, TOKEN_ENV

ORDERSYNC = str(Path(sys.executable).with_name("ordersync"))


def _popen(argv: list[str], env: dict[str, str], cwd: Path, stdout: IO[bytes], stderr: IO[bytes]) -> Any:
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr)


#: How a command's process is started: subprocess.Popen, or anything with its pid, returncode, poll,
#: wait and send_signal (the test suite forks commands from a process that has done their imports).
launch: Callable[[list[str], dict[str, str], Path, IO[bytes], IO[bytes]], Any] = _popen

#: every child this process spawned and has not seen end (reap() stops those a trial left behind)
_LIVE: list[Running] = []
_LIVE_LOCK = threading.Lock()


class CommandTimeout(RuntimeError):
    """A command did not end within its deadline (it was SIGKILLed)."""


@dataclass
class Done:
    """A finished command: exit code, output, wall time."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    killed: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 0

    def json(self) -> Any:
        return json.loads(self.stdout)

    def brief(self) -> str:
        """One line saying how it ended, for a failure message (never the command's URL)."""
        err = " ".join(self.stderr.split())
        last = err[-400:] if err else _runs_line(self.stdout) or self.stdout.strip()[-300:]
        return f"`ordersync {' '.join(_public(self.args))}` exited {self.code}: {' '.join(last.split())[:400]}"


def _runs_line(stdout: str) -> str | None:
    """A `sync --json` document summed up: each run that did not succeed, and the build's error."""
    start = stdout.find("{")
    try:
        doc = json.loads(stdout[start:]) if start >= 0 else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or "runs" not in doc:
        return None
    parts = [
        f"{r.get('tenant')} {r.get('mode')} {r.get('status')}: {r.get('error')}"
        for r in doc["runs"]
        if r.get("status") not in ("succeeded", "skipped")
    ]
    if doc.get("build_error"):
        parts.append(f"build: {doc['build_error']}")
    return "; ".join(parts) or "every run succeeded"


def _public(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            out.append("URL")
            skip = False
            continue
        out.append(a)
        skip = a in ("--warehouse", "-w")
    return out


class Cli:
    """ordersync's CLI for one trial: one warehouse, one working folder, one environment."""

    def __init__(self, workdir: Path, warehouse_url: str, clock: str | None, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.warehouse_url = warehouse_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERSYNC")}
        env.update(
            {
                KEY_ENV: APP_KEY,
                TOKEN_ENV: APP_TOKEN,
                "ORDERSYNC__DBT__STATE_DIR": str(workdir / "dbt"),
                # one customer identity secret for every process of the trial, this one's included
                "ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE": str(workdir / "identity.key"),
                "ORDERSYNC__SYNC__MAX_BACKOFF_SECONDS": "2",
                # the simulator has no rate limit unless a trial sets one: pacing is the faults trial's
                # subject, elsewhere it would only make each trial wait
                "ORDERSYNC__SYNC__REQUESTS_PER_MINUTE": "60000",
                "COLUMNS": "200",
            }
        )
        if clock is not None:
            env["ORDERSYNC__CLOCK"] = clock
        env.update(extra_env or {})
        self.env = env
        self._n = 0

    def _files(self, args: list[str]) -> tuple[Path, Path]:
        self._n += 1
        word = next((a for a in _public(args) if not a.startswith("-") and a != "URL"), "cmd")
        word = "".join(c for c in word if c.isalnum() or c == "-")[:20] or "cmd"
        stem = f"{self._n:03d}-{word}"
        return self.logs / f"{stem}.out", self.logs / f"{stem}.err"

    def log(self, name: str, stdout: str = "", stderr: str = "") -> None:
        """Output of something run in the harness's own process, kept beside the commands' (the
        secret scan reads it too)."""
        out, err = self._files([name])
        out.write_text(stdout)
        err.write_text(stderr)

    def command(self, args: list[str], warehouse: bool = True) -> list[str]:
        return [ORDERSYNC, *(["--warehouse", self.warehouse_url] if warehouse else []), *args]

    def run(
        self, args: list[str], timeout: float = 600, warehouse: bool = True, env: dict[str, str] | None = None
    ) -> Done:
        """Run a command to its end; CommandTimeout (after a SIGKILL) past `timeout` seconds, scaled."""
        began = time.perf_counter()
        running = self.spawn(args, env=env, warehouse=warehouse)
        running.wait(timeout, f"`ordersync {' '.join(_public(args))}` to finish")
        return running.done(time.perf_counter() - began)

    def spawn(
        self, args: list[str], name: str | None = None, env: dict[str, str] | None = None, warehouse: bool = True
    ) -> Running:
        out, err = self._files(args if name is None else [name])
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = launch(self.command(args, warehouse), {**self.env, **(env or {})}, self.workdir, fo, fe)
        running = Running(args, proc, out, err)
        with _LIVE_LOCK:
            _LIVE.append(running)
        return running

    def killed_at(self, args: list[str], after: float, timeout: float = 600) -> Done:
        """Run a command and SIGKILL it `after` seconds in (if it is still running then)."""
        running = self.spawn(args)
        began = time.perf_counter()
        try:
            running.proc.wait(timeout=after)
            killed = False
        except subprocess.TimeoutExpired:
            running.proc.send_signal(signal.SIGKILL)
            running.wait(timeout, f"`ordersync {' '.join(_public(args))}` to end after its SIGKILL")
            killed = True
        finally:
            running.kill()  # only if something above raised while it ran
        done = running.done(time.perf_counter() - began)
        done.killed = killed
        return done


@dataclass
class Running:
    args: list[str]
    proc: Any  # a subprocess.Popen or alike (see `launch`)
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then SIGKILL if it does not end in `timeout` seconds (scaled); returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        self._ended()
        return code

    def wait(self, timeout: float, what: str) -> int:
        """Wait for the process to end; past `timeout` seconds (scaled) SIGKILL it and raise
        CommandTimeout saying `what` was awaited."""
        limit = scaled(timeout)
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CommandTimeout(
                f"waited {limit:g} s for {what}; SIGKILLed it. Its output so far: {_tail(self.output())}"
            ) from None
        self._ended()
        return code

    def kill(self) -> bool:
        """SIGKILL (a frozen process too) and reap it; False when it had ended already."""
        killed = self.proc.poll() is None
        if killed:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()  # a SIGKILLed process always ends
        self._ended()
        return killed

    def _ended(self) -> None:
        with _LIVE_LOCK:
            if self in _LIVE and self.proc.poll() is not None:
                _LIVE.remove(self)

    def done(self, seconds: float) -> Done:
        code = self.wait(60, f"`ordersync {' '.join(_public(self.args))}` to end")
        return Done(self.args, code, _read(self.out), _read(self.err), seconds)

    def output(self) -> str:
        return _read(self.out) + _read(self.err)


def reap() -> list[str]:
    """SIGKILL every child still running that a trial left behind; what they were (no URL)."""
    with _LIVE_LOCK:
        left = [r for r in _LIVE if r.alive()]
        _LIVE.clear()
    for running in left:
        running.kill()
    return [f"`ordersync {' '.join(_public(r.args))}` (pid {r.pid})" for r in left]


def _tail(text: str, n: int = 400) -> str:
    return " ".join(text.split())[-n:]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


def clean_error(done: Done) -> str | None:
    """What is wrong with a failing command's error output, if anything: an error must be one clear
    line, no traceback (that needs --debug)."""
    text = done.stderr + done.stdout
    if "Traceback (most recent call last)" in text:
        return f"{done.brief()} printed a traceback without --debug"
    if "unexpected error" in text:
        return f"{done.brief()} (an unexpected error: ordersync did not know what this was)"
    return None
