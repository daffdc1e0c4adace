"""The body timeout counts the client's time only: while serve has stopped reading a connection
(its app has not taken the body yet, uvicorn's flow control), a prompt client is not refused.

A real uvicorn server on a socket with serve's configuration (web.edges.uvicorn_config) around an
app that holds each request until the test lets it go."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import anyio.to_thread
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from ordersync.config import ServeSettings
from ordersync.serve.sockets import bind_socket
from ordersync.web.edges import uvicorn_config
from support.processes import deadline, wait_for

BODY = 4 * 1024 * 1024  # far past uvicorn's 64 KB high-water mark: reading pauses


class HeldApp:
    """Reads a request's body only once `release` is set; answers its length."""

    def __init__(self) -> None:
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await anyio.to_thread.run_sync(self.release.wait)
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def held() -> Iterator[tuple[HeldApp, uvicorn.Server, int]]:
    app = HeldApp()
    settings = ServeSettings(body_timeout_seconds=0.3, header_timeout_seconds=30)
    server = uvicorn.Server(uvicorn_config(app, settings))
    sock = bind_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn to start")
        yield app, server, sock.getsockname()[1]
    finally:
        app.release.set()
        server.should_exit = True
        thread.join(deadline(30))
        sock.close()


def test_a_prompt_body_that_serve_is_not_reading_yet_is_not_timed_out(
    held: tuple[HeldApp, uvicorn.Server, int],
) -> None:
    app, server, port = held
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(deadline(60))
        head = f"POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {BODY}\r\n\r\n".encode()
        sender = threading.Thread(target=s.sendall, args=(head + b"a" * BODY,), daemon=True)
        sender.start()

        def put_off() -> int:
            return max((getattr(c, "deferred", 0) for c in list(server.server_state.connections)), default=0)

        # the body timeout came round twice while serve held the body unread
        wait_for(lambda: put_off() >= 2, "the body timeout to be put off while serve is not reading")
        app.release.set()
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        sender.join(deadline(60))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert answer.endswith(f"{len(str(BODY)):x}\r\n{BODY}\r\n0\r\n\r\n".encode())  # the whole body reached the app
