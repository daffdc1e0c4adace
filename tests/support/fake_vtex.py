"""A small fake of VTEX's list-orders and get-order endpoints on a real socket, with faults on demand.

Run it alone (for benchmarks) with: python -m tests.support.fake_vtex --orders 20000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime

APP_KEY = "vtexappkey-store1-ABCDEF"
APP_TOKEN = "tok-SECRET-0123456789"
_RANGE = re.compile(r"^(\w+):\[(\S+) TO (\S+)\]$")
_ATTRS = {"creationDate": "creation", "authorizedDate": "authorized", "invoicedDate": "invoiced"}


@dataclass
class FakeOrder:
    order_id: str
    creation: datetime
    authorized: datetime | None = None
    invoiced: datetime | None = None
    last_change: datetime | None = None
    status: str = "invoiced"
    total_value: float = 1000
    wire_creation: str | None = None  # the list's creationDate as sent; default cycles through VTEX's forms


@dataclass
class Fault:
    """One scripted answer: a status, a body, headers, after a delay. `cut` drops the connection mid-body."""

    status: int = 503
    body: bytes = b'{"error": {"code": "1", "message": "Service Unavailable"}}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: bool = False


MALFORMED = Fault(200, b'{"orderId": "v1-01", "status": "invo')
CUT = Fault(200, b'{"orderId": "v1-01", "status": "invoiced"}', cut=True)


def wire_date(value: datetime, form: int) -> str:
    """VTEX's date forms: 0, 3, 6 or 7 fractional digits, with Z or +00:00."""
    if form == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 1:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if form == 2:
        return format_vtex_datetime(value, 7)
    return format_vtex_datetime(value, 6)


def spread(n: int, start: datetime, end: datetime, prefix: str = "v") -> list[FakeOrder]:
    """n orders evenly spread over [start, end), off whole milliseconds as VTEX's are."""
    step = (end - start) / max(n, 1)
    return [
        FakeOrder(f"{prefix}{i:07d}-01", start + step * i + timedelta(microseconds=137), total_value=1000 + i)
        for i in range(n)
    ]


class RecordingSleep:
    """A stand-in for asyncio.sleep that records how long it was asked to wait, and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class FakeVtex:
    """One account's fake Orders API; `async with FakeVtex(orders) as fake:` serves it at `fake.base_url`."""

    def __init__(
        self,
        orders: Iterable[FakeOrder] = (),
        *,
        account: str = "store1",
        delay: float = 0.0,
        order_padding: int = 0,
    ) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.account = account
        self.delay = delay
        self.padding = "x" * order_padding
        self.list_faults: deque[Fault] = deque()
        self.get_faults: deque[Fault] = deque()
        self.order_faults: dict[str, deque[Fault]] = {}
        self.broken: set[str] = set()  # get-order answers a malformed 200 for these, always
        self.extra_items: list[Any] = []  # raw items added to every page 1
        self.forbidden = False
        self.in_flight = 0
        self.max_in_flight = 0
        self.list_queries: list[str] = []
        self.get_count = 0
        self.last_headers: dict[str, str] = {}
        self._sorted: list[FakeOrder] | None = None
        self._server: TestServer | None = None
        self.base_url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/{self.account}/api/oms/pvt/orders", self._list)
        app.router.add_get(f"/{self.account}/api/oms/pvt/orders/{{order_id}}", self._get)
        return app

    async def __aenter__(self) -> FakeVtex:
        self._server = TestServer(self.app(), host="127.0.0.1", access_log=None)
        await self._server.start_server()
        self.base_url = str(self._server.make_url(f"/{self.account}"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    def add(self, *orders: FakeOrder) -> None:
        for order in orders:
            self.orders[order.order_id] = order
        self._sorted = None

    async def _answer(self, request: web.Request, scripted: deque[Fault] | None) -> web.StreamResponse | None:
        """Counts the request in flight, checks auth and plays a scripted fault; None means carry on."""
        self.last_headers = dict(request.headers)
        if self.delay:
            await asyncio.sleep(self.delay)
        if (
            request.headers.get("X-VTEX-API-AppKey") != APP_KEY
            or request.headers.get("X-VTEX-API-AppToken") != APP_TOKEN
        ):
            return _error(401, "Unauthorized: the app key or token is not valid")
        if self.forbidden:
            return _error(403, "Forbidden: the key lacks the List Orders resource")
        if scripted:
            fault = scripted.popleft()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.cut:
                resp = web.StreamResponse(status=fault.status, headers=fault.headers)
                resp.content_length = len(fault.body) + 100
                await resp.prepare(request)
                await resp.write(fault.body)
                assert request.transport is not None
                request.transport.close()
                return resp
            return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
        return None

    async def _list(self, request: web.Request) -> web.StreamResponse:
        self._enter()
        try:
            self.list_queries.append(request.raw_path.partition("?")[2])  # as sent, still encoded
            early = await self._answer(request, self.list_faults)
            return early if early is not None else self._list_page(request)
        finally:
            self.in_flight -= 1

    def _list_page(self, request: web.Request) -> web.Response:
        q = request.query
        if self._sorted is None:
            self._sorted = sorted(self.orders.values(), key=lambda o: (o.creation, o.order_id))
        selected = self._sorted
        for name, value in q.items():
            if not name.startswith("f_") or name[2:] not in _ATTRS:
                continue
            m = _RANGE.match(value)
            if m is None or m[1] != name[2:]:
                return _error(400, f"invalid filter {name}={value}")
            lo, hi, attr = parse_vtex_datetime(m[2]), parse_vtex_datetime(m[3]), _ATTRS[name[2:]]
            selected = [o for o in selected if (d := getattr(o, attr)) is not None and lo <= d <= hi]
        per_page, page = int(q.get("per_page", "15")), int(q.get("page", "1"))
        if not 1 <= per_page <= 100:
            return _error(400, "per_page must be between 1 and 100")
        if not 1 <= page <= 30:
            return _error(400, "page must be between 1 and 30: the limit of information retrieval is 30 pages")
        chunk = selected[(page - 1) * per_page : page * per_page]
        items: list[Any] = [self._item(o) for o in chunk]
        if page == 1:
            items += self.extra_items
        doc = {
            "list": items,
            "facets": [],
            "paging": {
                "total": len(selected),
                "pages": math.ceil(len(selected) / per_page),
                "currentPage": page,
                "perPage": per_page,
            },
            "stats": {"stats": {}},
        }
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    def _item(self, o: FakeOrder) -> dict[str, Any]:
        form = sum(map(ord, o.order_id)) % 4
        return {
            "orderId": o.order_id,
            "creationDate": o.wire_creation or wire_date(o.creation, form),
            "lastChange": wire_date(o.last_change or o.creation, (form + 1) % 4),
            "status": o.status,
            "totalValue": o.total_value,
            "items": None,
        }

    async def _get(self, request: web.Request) -> web.StreamResponse:
        self._enter()
        try:
            self.get_count += 1
            order_id = request.match_info["order_id"]
            scripted = self.order_faults.get(order_id) or self.get_faults
            early = await self._answer(request, scripted)
            if early is not None:
                return early
            if order_id in self.broken:
                return web.Response(body=MALFORMED.body, content_type="application/json")
            order = self.orders.get(order_id)
            if order is None:
                return _error(404, "Order not found")
            doc = {
                "orderId": order.order_id,
                "status": order.status,
                "value": round(order.total_value),
                "creationDate": format_vtex_datetime(order.creation, 7),
                "lastChange": format_vtex_datetime(order.last_change or order.creation, 7),
                "openTextField": self.padding or None,
            }
            return web.Response(body=orjson.dumps(doc), content_type="application/json")
        finally:
            self.in_flight -= 1

    def _enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)


def _error(status: int, message: str) -> web.Response:
    body = orjson.dumps({"error": {"code": str(status), "message": message, "exception": None}})
    return web.Response(status=status, body=body, content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--padding", type=int, default=0, help="bytes of filler in each order body")
    args = parser.parse_args()
    start = datetime(2024, 5, 1, tzinfo=UTC)
    fake = FakeVtex(spread(args.orders, start, start + timedelta(days=1)), order_padding=args.padding)

    async def serve() -> None:
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}/{fake.account}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
