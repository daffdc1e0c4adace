"""Driving ordersync as a user does: its CLI in child processes, so `kill -9` really kills.

Every command's stdout and stderr go to numbered files in the trial's `logs/` folder (the secret scan
reads them all). Credentials reach ordersync only through the environment variables a tenant names.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib.secrets import APP_KEY, APP_TOKEN, KEY_ENV, TOKEN_ENV

ORDERSYNC = str(Path(sys.executable).with_name("ordersync"))


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

    def command(self, args: list[str], warehouse: bool = True) -> list[str]:
        return [ORDERSYNC, *(["--warehouse", self.warehouse_url] if warehouse else []), *args]

    def run(
        self, args: list[str], timeout: float = 600, warehouse: bool = True, env: dict[str, str] | None = None
    ) -> Done:
        out, err = self._files(args)
        began = time.perf_counter()
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = subprocess.run(
                self.command(args, warehouse),
                env={**self.env, **(env or {})},
                cwd=self.workdir,
                stdout=fo,
                stderr=fe,
                timeout=timeout,
                check=False,
            )
        return Done(args, proc.returncode, _read(out), _read(err), time.perf_counter() - began)

    def spawn(self, args: list[str], name: str | None = None, env: dict[str, str] | None = None) -> Running:
        out, err = self._files(args if name is None else [name])
        fo, fe = out.open("wb"), err.open("wb")
        proc = subprocess.Popen(
            self.command(args), env={**self.env, **(env or {})}, cwd=self.workdir, stdout=fo, stderr=fe
        )
        fo.close()
        fe.close()
        return Running(args, proc, out, err)

    def killed_at(self, args: list[str], after: float, timeout: float = 600) -> Done:
        """Run a command and SIGKILL it `after` seconds in (if it is still running then)."""
        running = self.spawn(args)
        began = time.perf_counter()
        try:
            running.proc.wait(timeout=after)
            killed = False
        except subprocess.TimeoutExpired:
            running.proc.send_signal(signal.SIGKILL)
            running.proc.wait(timeout=timeout)
            killed = True
        done = running.done(time.perf_counter() - began)
        done.killed = killed
        return done


@dataclass
class Running:
    args: list[str]
    proc: subprocess.Popen[bytes]
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
        """SIGTERM, then SIGKILL if it does not end in `timeout` seconds; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=timeout)

    def done(self, seconds: float) -> Done:
        code = self.proc.wait()
        return Done(self.args, code, _read(self.out), _read(self.err), seconds)

    def output(self) -> str:
        return _read(self.out) + _read(self.err)


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
