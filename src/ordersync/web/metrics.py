"""Metrics at the web's edge: the push route's durations and refusals, counted once for every
answer whatever returned it (an ASGI middleware sees the status each push was answered with), and
GET /metrics behind an authorisation given by the caller."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ordersync import metrics
from ordersync.web.errors import problem

#: The push route, declared here so the meter knows it by its template.
PUSH_PATH = "/v1/tenants/{tenant}/orders"

#: Whether a request may read the metrics (e.g. a bearer admin or metrics token).
Authorize = Callable[[Request], Awaitable[bool]]
#: The exposition: (body, content type); observe.warehouse_metrics.render_metrics, run where the
#: caller reads the warehouse.
Render = Callable[[], Awaitable[tuple[bytes, str]]]


class PushMeter:
    """Times every push request and counts the refused ones (4xx), by the status they got."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server sends when the app raised before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # the router leaves the route it matched in the scope
            if getattr(scope.get("route"), "path", None) == PUSH_PATH:
                metrics.push_answered(status, time.perf_counter() - began)


def add_metrics_route(api: FastAPI, render: Render, authorize: Authorize) -> None:
    """GET /metrics: the exposition to a request `authorize` accepts, 401 to any other."""

    @api.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Any:
        if not await authorize(request):
            return problem(
                401,
                "send Authorization: Bearer <token> of a token that may read metrics",
                {"WWW-Authenticate": "Bearer"},
            )
        body, content_type = await render()
        return Response(body, media_type=content_type)
