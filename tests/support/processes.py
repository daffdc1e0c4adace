"""Waiting without depending on the machine's speed: conditions with generous deadlines, and child
processes that are always stopped.

A test waits for what it needs (a row, a log line, a simulated-clock instant), never for a
duration: on a loaded machine it is slower, never red. Deadlines are generous and scaled by
ORDERSYNC_TEST_TIMEOUT_SCALE (e.g. 3 on a slow runner); a missed one says what was awaited.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from support import forkserver

T = TypeVar("T")

#: Multiplies every deadline of the suite.
SCALE = float(os.environ.get("ORDERSYNC_TEST_TIMEOUT_SCALE", "1") or 1)
#: How often a condition is checked again.
POLL_SECONDS = 0.05
#: PostgreSQL sessions of the current database waiting on a lock (one blocked by another's rows).
PG_LOCK_WAITERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def deadline(seconds: float) -> float:
    """`seconds` scaled for this machine."""
    return seconds * SCALE


def wait_for(condition: Callable[[], T], what: str, timeout: float = 120.0, poll: float = POLL_SECONDS) -> T:
    """The first truthy value of `condition()`, checked until `timeout` (scaled) has passed; an
    AssertionError naming `what` when it never came. Exceptions of `condition` propagate."""
    limit = deadline(timeout)
    ends = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= ends:
            raise AssertionError(f"waited {limit:.0f} s for {what}; it never happened")
        time.sleep(poll)


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop `proc` and every process of its session: SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        _kill_group(proc, signal.SIGKILL)  # children it left behind
        return
    _kill_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=deadline(grace))
    _kill_group(proc, signal.SIGKILL)
    proc.wait()


def _kill_group(proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@contextlib.contextmanager
def spawned(
    cmd: Sequence[str], log: Path, err_log: Path | None = None, **kwargs: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """`cmd` in a session of its own with stdout and stderr in `log` (stderr in `err_log` when given);
    stopped with everything it started when the block ends, whatever happens. `python -m ordersync
    ...` is forked from the suite's fork server (support/forkserver.py) when it can be."""
    proc: Any = None
    with log.open("wb") as out, (err_log or log).open("ab") as err:
        errors = err if err_log else out
        ordersync = [sys.executable, "-m", "ordersync"]
        env = kwargs.get("env") or os.environ
        if list(cmd[:3]) == ordersync and set(kwargs) <= {"env", "cwd"} and forkserver.enabled(env):
            cwd = kwargs.get("cwd") or os.getcwd()
            proc = forkserver.spawn(list(cmd[3:]), cwd, env, out.fileno(), errors.fileno())
        if proc is None:
            proc = subprocess.Popen(list(cmd), stdout=out, stderr=errors, start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        stop(proc)


def run(cmd: Sequence[str], what: str, timeout: float = 300.0, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `cmd` to its end (text output captured) in a session of its own; past `timeout` (scaled)
    it is killed with everything it started and the test fails naming `what` and its last output."""
    limit = deadline(timeout)
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        out, err = proc.communicate()
        tail = f"{(out or '')[-2000:]}\n{(err or '')[-2000:]}"
        raise AssertionError(f"{what} ran past {limit:.0f} s and was stopped; its last output:\n{tail}") from None
    finally:
        if proc.poll() is None:
            stop(proc, grace=2)
        else:
            _kill_group(proc, signal.SIGKILL)  # what it started and left running
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
