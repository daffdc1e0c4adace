"""The simulator as a raw ASGI app: VTEX's OMS, Feed v3 and Hook routes per account, plus /_simulator/ control routes.

No framework: the get-order hot path is a path split, a header scan and one template render.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from ordersync.simulator.catalog import Catalog
from ordersync.simulator.clock import SimClock
from ordersync.simulator.config import SimulatorConfig
from ordersync.simulator.events import EventHub, EventSettings
from ordersync.simulator.limits import FaultInjector, RequestStats, TokenBucket
from ordersync.simulator.listing import ListQueryError, parse_list_query, run_list_query
from ordersync.simulator.payload import OrderRenderer
from ordersync.simulator.timefmt import DAY_US, iso_now, parse_us, to_us
from ordersync.simulator.view import order_view

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json; charset=utf-8"
_HTML = b"text/html; charset=utf-8"
_API_PATH = ["api", "oms", "pvt", "orders"]
# /{account}/api/orders/... routes of Feed v3 and Hook: path tail -> (route name, allowed methods)
_EVENT_ROUTES: dict[tuple[str, ...], tuple[str, frozenset[str]]] = {
    ("feed",): ("feed", frozenset({"GET", "POST"})),
    ("feed", "config"): ("feed_config", frozenset({"GET", "POST", "DELETE"})),
    ("hook", "config"): ("hook_config", frozenset({"GET", "POST", "DELETE"})),
}
_GET = frozenset({"GET"})
_FAULT_STATUS = {"500": 500, "502": 502, "503": 503, "504": 504}


@dataclass
class Store:
    catalog: Catalog
    renderer: OrderRenderer
    bucket: TokenBucket | None


def error_body(code: str, message: str) -> bytes:
    """VTEX's error envelope."""
    return orjson.dumps({"error": {"code": code, "message": message, "exception": None}})


class SimulatorApp:
    """ASGI callable serving every configured account."""

    def __init__(self, config: SimulatorConfig, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        start_us = to_us(config.resolved_start())
        self.clock = SimClock(start_us, config.speed, monotonic)
        self.stores: dict[str, Store] = {}
        for spec in config.accounts:
            days = config.history_days(spec)
            cat = Catalog(
                spec,
                config.seed,
                start_us - int(days * DAY_US),
                history_days=days,
                population=config.population,
                identities=config.identities,
            )
            cat.ensure(start_us)
            bucket = TokenBucket(config.rate_limit_per_minute, monotonic) if config.rate_limit_per_minute > 0 else None
            self.stores[spec.name] = Store(cat, OrderRenderer(cat), bucket)
        self.lag_us = int(config.index_lag_seconds * 1_000_000)
        self._app_key = config.app_key.encode()
        self._app_token = config.app_token.encode()
        self.faults = FaultInjector(config.fault_rate, config.seed)
        self.stats = RequestStats()
        catalogs = {name: store.catalog for name, store in self.stores.items()}
        self.events = EventHub(catalogs, self.clock, event_settings(config), config.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._http(scope, receive, send)
            except Exception as exc:  # a simulator bug must answer, not hang the client
                self.stats.count("error", 500)
                await _respond(send, 500, error_body("SIM500", f"simulator error: {exc!r}"))
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.events.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    # API --------------------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/_simulator/"):
            await self._control(scope, receive, send, path[len("/_simulator/") :])
            return
        parts = path.split("/")
        method: str = scope["method"]
        route = _route(parts)
        if route is None:
            self.stats.count("other", 404)
            await _respond(send, 404, error_body("404", f"no route for {path}"))
            return
        route_name, methods = route
        store = self.stores.get(parts[1])
        if store is None:
            self.stats.count(route_name, 404)
            await _respond(send, 404, error_body("AccountNotFound", f"account {parts[1]!r} not found"))
            return
        if method not in methods:
            self.stats.count(route_name, 405)
            await _respond(send, 405, error_body("405", "method not allowed"))
            return
        key = token = None
        for name, value in scope["headers"]:
            lname = name.lower()
            if lname == b"x-vtex-api-appkey":
                key = value
            elif lname == b"x-vtex-api-apptoken":
                token = value
        if key != self._app_key or token != self._app_token:
            self.stats.count(route_name, 401)
            await _respond(
                send, 401, error_body("401", "unauthorized: invalid X-VTEX-API-AppKey or X-VTEX-API-AppToken")
            )
            return
        if store.bucket is not None:
            wait = store.bucket.take()
            if wait:
                self.stats.count(route_name, 429)
                await _respond(
                    send,
                    429,
                    error_body("429", f"too many requests for account {parts[1]!r}; retry after {wait} s"),
                    [(b"retry-after", str(wait).encode())],
                )
                return

        fault = self.faults.draw()
        if fault is not None:
            self.stats.faults[fault] += 1
            status = _FAULT_STATUS.get(fault)
            if status is not None:
                self.stats.count(route_name, status)
                if status == 502:
                    await _respond(send, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type=_HTML)
                else:
                    await _respond(send, status, error_body(str(status), "the service is temporarily unavailable"))
                return
            if fault == "slow":
                await asyncio.sleep(self.faults.slow_seconds())

        if route_name == "get_order":
            status, body = self._get_order(store, parts[6])
        elif route_name == "list":
            status, body = self._list(store, scope)
        else:
            status, body = await self._event_route(route_name, method, parts[1], self.config.app_key, scope, receive)
        if fault == "malformed" and status == 200 and body:
            body = body[: self.faults.cut_at(len(body))]
        self.stats.count(route_name if method == "GET" else f"{route_name}_{method.lower()}", status)
        await _respond(send, status, body)

    async def _event_route(
        self, route: str, method: str, account: str, app_key: str, scope: Scope, receive: Receive
    ) -> tuple[int, bytes]:
        hub = self.events
        body = await _read_json(receive) if method == "POST" else None
        if method == "POST" and body is None:
            return 400, error_body("400", "the body is not valid JSON")
        if route == "feed":
            if method == "GET":
                status, payload = hub.get_feed(account, app_key, _query(scope))
            else:
                status, payload = hub.commit_feed(account, app_key, body)
        elif route == "feed_config":
            status, payload = hub.feed_config(method, account, app_key, body)
        else:
            status, payload = await hub.hook_config(method, account, app_key, body)
        return status, b"" if payload is None else orjson.dumps(payload)

    def _get_order(self, store: Store, order_id: str) -> tuple[int, bytes]:
        t = self.clock.effective_us()
        cat = store.catalog
        cat.ensure(t)
        row = cat.row_of(order_id)
        if row is None or int(cat.cols.creation[row]) > t:
            return 404, error_body("OMS003", f"Order {order_id} not found")
        return 200, store.renderer.render(order_view(cat, row, t))

    def _list(self, store: Store, scope: Scope) -> tuple[int, bytes]:
        params = _query(scope)
        try:
            query = parse_list_query(params)
        except ListQueryError as exc:
            return 400, error_body("400", str(exc))
        t_list = self.clock.indexed_us(self.lag_us)
        store.catalog.ensure(t_list)
        return 200, orjson.dumps(run_list_query(store.renderer, query, t_list))

    # control ----------------------------------------------------------------------------------------

    async def _control(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        method = scope["method"]
        status, payload = 404, error_body("404", f"unknown control route {name!r}")
        if name == "clock" and method == "GET":
            status, payload = 200, orjson.dumps(self.clock_json())
        elif name == "clock" and method == "POST":
            status, payload = self._set_clock(await _read_json(receive))
        elif name == "quiesce" and method == "POST":
            self.clock.quiesce()
            status, payload = 200, orjson.dumps(self.clock_json())
        elif name == "truth" and method == "GET":
            status, payload = self._truth(_query(scope))
        elif name == "people" and method == "GET":
            status, payload = self._people(_query(scope))
        elif name == "stats" and method == "GET":
            status, payload = 200, orjson.dumps(self.stats.snapshot())
        elif name == "info" and method == "GET":
            status, payload = 200, orjson.dumps(self.info())
        elif name == "events" and method == "GET":
            status, payload = 200, orjson.dumps(self.events.snapshot())
        elif name == "events/settings" and method == "GET":
            status, payload = 200, orjson.dumps(self.events.settings.to_json())
        elif name == "events/settings" and method == "POST":
            try:
                self.events.apply_settings(await _read_json(receive))
                status, payload = 200, orjson.dumps(self.events.settings.to_json())
            except ValueError as exc:
                status, payload = 400, error_body("400", str(exc))
        self.stats.count("control", status)
        await _respond(send, status, payload)

    def clock_json(self) -> dict[str, Any]:
        q = self.clock.quiesced_at_us
        return {
            "now": iso_now(self.clock.now_us()),
            "speed": self.clock.speed,
            "quiesced_at": None if q is None else iso_now(q),
        }

    def info(self) -> dict[str, Any]:
        t = self.clock.effective_us()
        return {
            "accounts": {
                name: {
                    "orders_per_day": s.catalog.orders_per_day,
                    "orders_generated": len(s.catalog),
                    "orders_existing": int(s.catalog.created_between(-(1 << 62), t)[1]),
                    "column_bytes": s.catalog.cols.nbytes,
                }
                for name, s in self.stores.items()
            },
            "seed": self.config.seed,
            "index_lag_seconds": self.config.index_lag_seconds,
            "fault_rate": self.config.fault_rate,
            "rate_limit_per_minute": self.config.rate_limit_per_minute,
            **self.clock_json(),
        }

    def _set_clock(self, body: Any) -> tuple[int, bytes]:
        if not isinstance(body, dict) or not ({"advance_seconds", "speed"} & body.keys()):
            return 400, error_body("400", 'expected {"advance_seconds": n} and/or {"speed": x}')
        try:
            if "speed" in body:
                self.clock.set_speed(float(body["speed"]))
            if "advance_seconds" in body:
                self.clock.advance(float(body["advance_seconds"]))
        except (TypeError, ValueError) as exc:
            return 400, error_body("400", str(exc))
        t = self.clock.effective_us()
        for store in self.stores.values():
            store.catalog.ensure(t)
        self.events.pump()  # the store changed orders: feeds and hooks hear of it now
        return 200, orjson.dumps(self.clock_json())

    def _account_now(self, params: dict[str, list[str]]) -> tuple[str, Any, int] | tuple[int, bytes]:
        """(account, its store, now) with the store's orders made up to now; or the 404 to answer."""
        account = (params.get("account") or [""])[-1]
        store = self.stores.get(account)
        if store is None:
            return 404, error_body("AccountNotFound", f"account {account!r} not found")
        t = self.clock.effective_us()
        store.catalog.ensure(t)
        return account, store, t

    def _truth(self, params: dict[str, list[str]]) -> tuple[int, bytes]:
        found = self._account_now(params)
        if len(found) == 2:
            return found
        account, store, t = found
        cat = store.catalog
        try:
            lo = parse_us(params["created_from"][-1]) if "created_from" in params else -(1 << 62)
            hi = parse_us(params["created_to"][-1]) if "created_to" in params else t
        except ValueError as exc:
            return 400, error_body("400", str(exc))
        a, b = cat.created_between(lo, min(hi, t))
        renderer = store.renderer
        orders = [renderer.truth_item(order_view(cat, row, t)) for row in range(a, b)]
        return 200, orjson.dumps({"account": account, "now": iso_now(t), "orders": orders})

    def _people(self, params: dict[str, list[str]]) -> tuple[int, bytes]:
        """Who placed each order created so far (a person number per order id), and how people were drawn."""
        found = self._account_now(params)
        if len(found) == 2:
            return found
        account, store, t = found
        cat = store.catalog
        _, b = cat.created_between(-(1 << 62), t)
        return 200, orjson.dumps(
            {
                "account": account,
                "now": iso_now(t),
                "population": dataclasses.asdict(self.config.population),
                "identities": dataclasses.asdict(self.config.identities),
                "arrivals_per_day": cat.population.rate,
                "persons": cat.population.persons,
                "orders": {cat.order_id(row): cat.person_of(row) for row in range(b)},
            }
        )


def _route(parts: list[str]) -> tuple[str, frozenset[str]] | None:
    """(route name, allowed methods) of a split API path /{account}/api/..., None when there is no such route."""
    if len(parts) in (6, 7) and parts[2:6] == _API_PATH:
        return ("get_order" if len(parts) == 7 and parts[6] else "list"), _GET
    if len(parts) >= 5 and parts[2:4] == ["api", "orders"]:
        return _EVENT_ROUTES.get(tuple(parts[4:]))
    return None


def event_settings(config: SimulatorConfig) -> EventSettings:
    settings = EventSettings(
        duplicate_rate=config.event_duplicate_rate,
        visibility_timeout_seconds=config.feed_visibility_timeout_seconds,
        hook_timeout_seconds=config.hook_timeout_seconds,
        hook_retry_base_seconds=config.hook_retry_base_seconds,
        hook_retry_factor=config.hook_retry_factor,
        hook_retry_max_seconds=config.hook_retry_max_seconds,
        hook_max_attempts=config.hook_max_attempts,
    )
    settings.validate()
    return settings


def _query(scope: Scope) -> dict[str, list[str]]:
    raw: bytes = scope.get("query_string", b"")
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


async def _read_json(receive: Receive) -> Any:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = _JSON,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(config: SimulatorConfig) -> SimulatorApp:
    """Generate every account's orders and return the ASGI app serving them."""
    return SimulatorApp(config)
