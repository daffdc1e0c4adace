"""serve's edges, against a real `ordersync serve` with small limits: a huge request head gets 431,
a slow head or body is closed after its timeout (408), connections past the cap get 503, a client
gone mid-body is one log line, and a second serve on a busy port or warehouse says so."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from support.cli import ordersync
from support.processes import deadline, wait_for
from support.serving import free_port, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # one serve for the module, raw sockets

LIMITS = """
[serve]
max_header_kb = 8
header_timeout_seconds = 3
body_timeout_seconds = 3
max_connections = 3
"""


@dataclass
class Served:
    url: str
    host: str
    port: int
    folder: Path
    token: str

    def log(self) -> str:
        return next(self.folder.glob("serve-*.log")).read_text(errors="replace")

    def connect(self) -> socket.socket:
        s = socket.create_connection((self.host, self.port))
        s.settimeout(deadline(60))  # a wait for the server's answer or close, never a measure
        return s


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("edges")
    (folder / "ordersync.toml").write_text(LIMITS)
    assert ordersync(["tenants", "add", "app", "--platform", "push"], folder, clean_env=True).returncode == 0
    made = ordersync(["tokens", "create", "--tenant", "app", "--json"], folder, clean_env=True)
    token = json.loads(made.stdout)["token"]
    with serving(folder) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        yield Served(url, parts.hostname, parts.port, folder, token)


def _read_to_close(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def _push_head(served: Served, length: int) -> bytes:
    return (
        f"POST /v1/tenants/app/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_40_mb_head_gets_431_and_a_head_under_the_limit_is_served(served: Served) -> None:
    with served.connect() as s:
        stopped: list[OSError] = []

        def send() -> None:
            try:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(640):
                    s.sendall(b"a" * 65536)  # 40 MB in all, unless the server has stopped reading
            except OSError as exc:
                stopped.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = _read_to_close(s)
        sender.join(deadline(60))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"over 8 KB" in answer
    ok = httpx.get(f"{served.url}/v1/health", headers={"X-Pad": "b" * 7000})
    assert ok.status_code == 200


def test_a_slow_or_silent_head_is_closed_after_the_header_timeout(served: Served) -> None:
    with served.connect() as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = _read_to_close(s)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"request head did not arrive within 3 s" in answer
    with served.connect() as s:
        assert _read_to_close(s) == b""  # nothing asked: closed without an answer


def test_a_slow_body_is_closed_after_the_body_timeout(served: Served) -> None:
    with served.connect() as s:
        s.sendall(_push_head(served, 1000) + b"[")
        answer = _read_to_close(s)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"request body did not arrive within 3 s" in answer
    wait_for(lambda: "request body did not arrive" in served.log(), "serve to log the refusal")


def test_a_connection_answered_before_its_body_ended_is_not_held_by_a_slow_head(served: Served) -> None:
    with served.connect() as s:
        s.sendall(b"POST /v1/tenants/app/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[")
        first = b""
        while b"\r\n\r\n" not in first:
            first += s.recv(65536)  # 401 (no token) before the body ended
        s.sendall(b"]GET /v1/health HTTP/1.1\r\n")  # the body's end, then a head that never ends
        answer = first + _read_to_close(s)  # returns once serve closed the connection
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


def test_a_client_gone_mid_body_is_one_log_line(served: Served) -> None:
    with served.connect() as s:
        s.sendall(_push_head(served, 1000) + b'[{"order_id": "A-1", ')
    line = "went away before sending the whole body of POST /v1/tenants/app/orders"
    wait_for(lambda: line in served.log(), "serve to log the client that went away")
    log = served.log()
    assert log.count(line) == 1
    assert "Traceback" not in log and "ClientDisconnect" not in log


def test_connections_past_the_cap_get_503(served: Served) -> None:
    def past_the_cap() -> bool:
        held = [served.connect() for _ in range(3)]
        try:
            for h in held:
                h.sendall(b"GET")  # open, the head unfinished
            with served.connect() as s:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return _read_to_close(s).startswith(b"HTTP/1.1 503 ")
        finally:
            for h in held:
                h.close()

    wait_for(past_the_cap, "a request past 3 open connections to get 503")
    wait_for(lambda: httpx.get(f"{served.url}/v1/health").status_code == 200, "health once they are closed")


def test_a_second_serve_on_a_busy_port_or_warehouse_says_so(served: Served, tmp_path: Path) -> None:
    busy = ordersync(["serve", "--no-worker", "--port", str(served.port)], tmp_path, clean_env=True)
    said = " ".join(busy.stderr.split())
    assert busy.returncode == 2, busy.stderr
    assert f"cannot listen on 127.0.0.1:{served.port}: the port is in use" in said and "--port" in said
    assert "unexpected error" not in said
    again = ordersync(["serve", "--no-worker", "--port", str(free_port())], served.folder, clean_env=True)
    said = " ".join(again.stderr.split())
    assert again.returncode == 5, again.stderr
    assert "ordersync serve is already running for ordersync.duckdb" in said and "stop it first" in said
