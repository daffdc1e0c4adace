"""`ordersync serve` as a user starts it: a process of its own in a folder, answering on a port."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.processes import spawned, stop, wait_for

#: How long `ordersync serve` may take to answer its health check (scaled).
START_SECONDS = 120.0
#: How long it may take to shut down on SIGTERM (scaled) before it is killed.
STOP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextmanager
def serving(cwd: Path, *extra: str) -> Iterator[str]:
    """Start `ordersync serve --no-worker` in `cwd` (its output in `serve-PORT.log` there); yields its
    URL once /v1/health answers 200. It fails with that output when the process exits first or never
    answers; at the end it is stopped with everything it started, whatever happens."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = cwd / f"serve-{port}.log"
    cmd = [sys.executable, "-m", "ordersync", "serve", "--port", str(port), "--no-worker", *extra]

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    with spawned(cmd, log, cwd=cwd) as server:
        try:
            try:
                wait_for(
                    lambda: server.poll() is not None or healthy(),
                    f"ordersync serve to answer {url}/v1/health",
                    timeout=START_SECONDS,
                )
            except AssertionError as e:
                raise AssertionError(f"{e}; its output:\n{_tail(log)}") from None
            if server.poll() is not None:
                raise AssertionError(f"ordersync serve exited with {server.returncode} before answering:\n{_tail(log)}")
            yield url
        finally:
            stop(server, grace=STOP_SECONDS)  # time to shut down cleanly (its socket file gone) before SIGKILL
