"""The `ordersync` command as a user runs it: `python -m ordersync ...` in a folder, a process of its
own with a deadline (support.processes.run), stopped with whatever it started if it overruns. The
process is forked from one that has done the imports every command does (support.forkserver)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from support import forkserver, processes


def environment(
    env: Mapping[str, str] | None = None, columns: int | None = 200, clean_env: bool = False
) -> dict[str, str]:
    """This process's environment (without its ORDERSYNC* variables when `clean_env`: no setting of
    the shell that runs the tests reaches the command), then `env`, then COLUMNS=`columns` (None:
    COLUMNS as inherited or given in `env`)."""
    base = {k: v for k, v in os.environ.items() if not (clean_env and k.upper().startswith("ORDERSYNC"))}
    base.update(env or {})
    if columns is not None:
        base["COLUMNS"] = str(columns)
    return base


def ordersync(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    columns: int | None = 200,
    clean_env: bool = False,
    timeout: float = 300.0,
    what: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`ordersync *args` run to its end in `cwd` with the `environment(env, columns, clean_env)`, its
    text output captured. Past `timeout` seconds (scaled by ORDERSYNC_TEST_TIMEOUT_SCALE) it is
    killed with everything it started and the test fails naming `what` (by default the command line)
    and its last output. The exit status is the caller's to check."""
    what = what or " ".join(["ordersync", *args])
    full_env = environment(env, columns, clean_env)
    if forkserver.enabled(full_env):
        done = forkserver.run(args, cwd, full_env, processes.deadline(timeout), what)
        if done is not None:
            return done
    return processes.run([sys.executable, "-m", "ordersync", *args], what, timeout=timeout, cwd=cwd, env=full_env)
