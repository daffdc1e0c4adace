"""The chaos trials' library is `bench/chaoslib/` (bench/chaos.py runs the published trials); the
tests import it from there, and have its commands forked from a process that has done their imports
(support/forkserver.py) rather than started afresh."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from support import forkserver

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

from chaoslib import commands  # noqa: E402  (found on the path set above)


def _forked(argv: list[str], env: dict[str, str], cwd: Path, stdout: IO[bytes], stderr: IO[bytes]) -> Any:
    """A chaos command as the console script runs it, forked; started afresh when it cannot be."""
    if forkserver.enabled(env):
        proc = forkserver.spawn(argv[1:], cwd, env, stdout.fileno(), stderr.fileno(), script=argv[0], new_session=False)
        if proc is not None:
            return proc
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr)


@pytest.fixture(autouse=True)
def _commands_forked() -> Iterator[None]:
    saved = commands.launch
    commands.launch = _forked
    try:
        yield
    finally:
        commands.launch = saved
