"""The server's edges: what a client may hold of `ordersync serve` before a request reaches the app.

uvicorn bounds neither the request head under httptools (h11_max_incomplete_event_size applies to
h11 only) nor the time a client takes to send it or the body (timeout_keep_alive covers only an
idle keep-alive connection, and a fresh connection that sends nothing is held forever). The
protocol here adds, from `[serve]`:

- the head (request line and headers) is counted as it arrives; past `max_header_kb` the client
  gets 431 and the connection closes, before the rest is buffered;
- the head must arrive within `header_timeout_seconds` of the connection (or of the previous
  response), the body within `body_timeout_seconds` of the head; else 408 (or, once the app has
  answered, a close). Time when serve itself stopped reading (uvicorn pauses a connection whose
  unread body piles up while the app waits) is not the client's: its body timeout starts again;
- past `max_connections` open connections a request gets 503 (uvicorn's limit_concurrency).

A refused client gets its answer and then a half-close: what it still sends is read and dropped
for a moment, so it reads the status instead of a connection reset. A client that goes away
mid-body is one log line, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ordersync.config import ServeSettings

log = logging.getLogger("ordersync.serve")

#: The end of a request head.
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Edges:
    max_head_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: ServeSettings) -> Edges:
        return cls(
            max_head_bytes=settings.max_header_kb * 1024,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            max_connections=settings.max_connections,
        )


def uvicorn_config(app: ASGIApp, settings: ServeSettings) -> uvicorn.Config:
    """serve's uvicorn configuration, with its edges from `settings`."""
    edges = Edges.of(settings)
    protocol = type("EdgeProtocol", (EdgeProtocol,), {"edges": edges})
    return uvicorn.Config(
        GoneClients(app),
        loop="uvloop",
        http=protocol,
        ws="none",
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        # uvicorn counts the connection asking among the open ones: N open are served, the next gets 503
        limit_concurrency=edges.max_connections + 1,
        h11_max_incomplete_event_size=edges.max_head_bytes,  # the same bound, should h11 ever be chosen
    )


class EdgeProtocol(HttpToolsProtocol):
    """httptools' protocol with a bounded head and header and body read timeouts."""

    edges: ClassVar[Edges]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        #: body timeouts put off because serve, not the client, was the one waiting
        self.deferred = 0

    # -- the connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.edges.header_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # what a refused client still sends is dropped until it reads its answer
        if self._in_head and self._head_over_limit(data):
            kb = self.edges.max_head_bytes // 1024
            self._refuse(431, f"the request head (request line and headers) is over {kb} KB")
            return
        super().data_received(data)

    def _head_over_limit(self, data: bytes) -> bool:
        seen = self._head_bytes + len(data)
        if seen > self.edges.max_head_bytes:
            joined = self._tail + data
            end = joined.find(_HEAD_END)
            if end < 0 or self._head_bytes - len(self._tail) + end + len(_HEAD_END) > self.edges.max_head_bytes:
                return True
        self._head_bytes = seen
        self._tail = (self._tail + data)[-(len(_HEAD_END) - 1) :]
        return False

    # -- parser callbacks ----------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.edges.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes, self._tail = True, 0, b""
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete:
            # answered before its body ended (a 401, say): the next head's time starts now
            self._arm(self.edges.header_timeout, self._head_too_slow)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._in_head and not self.transport.is_closing():
            self._arm(self.edges.header_timeout, self._head_too_slow)  # the next request's head

    # -- timeouts and refusals -----------------------------------------------------------------
    def _arm(self, seconds: float, then: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._head_bytes == 0:
            self.transport.close()  # nothing was asked (a silent or idle keep-alive connection)
            return
        self._refuse(408, f"the request head did not arrive within {self.edges.header_timeout:g} s")

    def _body_too_slow(self) -> None:
        self._timer = None
        if self.flow.read_paused:
            # serve stopped reading (the app has not taken what came): the wait is serve's, not
            # the client's; the client gets its time again from here
            self.deferred += 1
            self._arm(self.edges.body_timeout, self._body_too_slow)
            return
        if self.cycle is not None and self.cycle.response_started:
            self._close_cycle()
            self.transport.close()  # answered already: nothing to say
            return
        self._refuse(408, f"the request body did not arrive within {self.edges.body_timeout:g} s")

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` with `reason`, then half-close; the connection ends when the client
        closes or after the header timeout."""
        self._disarm()
        self._refused = True
        where = _peer(self.client)
        log.warning("refused %s with %d: %s", where, status, reason)
        self._close_cycle()
        text = (reason + "\n").encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, _PHRASES[status], len(text), text)
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._timer = self.loop.call_later(self.edges.header_timeout, self.transport.close)
        else:
            self.transport.close()

    def _close_cycle(self) -> None:
        """The app's request (if any) ends as if the client went away: it writes nothing more
        (and GoneClients says nothing more: the refusal was logged)."""
        if self.cycle is not None and not self.cycle.response_complete:
            cast(dict[str, Any], self.cycle.scope)[_REFUSED] = True
            self.cycle.disconnected = True
            self.cycle.message_event.set()


#: Set in a request's scope when the protocol refused it mid-way.
_REFUSED = "ordersync.refused"
_PHRASES = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GoneClients:
    """A client that went away before its body arrived is one log line (not uvicorn's traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            if scope.get(_REFUSED):
                return
            where = _peer(scope.get("client"))
            log.warning("%s went away before sending the whole body of %s %s", where, scope["method"], scope["path"])


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"
