"""VtexClient: one VTEX account's Orders API, list orders and get order.

The list endpoint serves at most 30 pages of at most 100 orders per query, so a window with more
orders is split into time slices until each fits. Get-order is fanned out with bounded concurrency.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from pydantic import SecretStr
from yarl import URL

from ordersync.errors import MalformedBodyError, NotFoundError, SourceError
from ordersync.land.order_head import OrderHead, decode_order_head
from ordersync.sources.http.pacing import Pacer, account_key, shared_pacer
from ordersync.sources.http.retry import RetryPolicy
from ordersync.sources.http.transport import ClientStats, Endpoint, Transport
from ordersync.sources.vtex.listing import DATE_FIELDS, DateField, ListEntry, parse_list_item
from ordersync.sources.vtex.seen import SeenOrders
from ordersync.sources.vtex.windows import ListWindow

logger = logging.getLogger("ordersync.sources.vtex")

MAX_PAGES = 30
MAX_PER_PAGE = 100
# A split aims at 25 pages per slice, so orders indexed while we read rarely push one past 30.
TARGET_PAGES = 25
_SPLIT = -1


@dataclass(frozen=True, slots=True)
class OrderBody:
    """A get-order body as received (`raw`), with the fields ordersync reads already decoded from it
    (`head`), so the caller need not decode 13 KB of JSON a second time."""

    raw: bytes
    head: OrderHead


@dataclass(frozen=True, slots=True)
class _Page:
    window: ListWindow
    number: int
    entries: list[ListEntry]
    total: int
    pages: int


class VtexClient:
    """Async client for one VTEX account (one tenant): one HTTP session, `concurrency` requests at most,
    paced to the account's budget when `requests_per_minute` is given."""

    def __init__(
        self,
        base_url: str,
        app_key: SecretStr,
        app_token: SecretStr,
        *,
        concurrency: int = 16,
        per_page: int = 100,
        max_retries: int = 8,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        requests_per_minute: float | None = None,
        pacer_key: str | None = None,
        max_throttle_wait: float = 900.0,
    ) -> None:
        """`requests_per_minute` paces every request (attempts included) to the account's budget,
        shared with every other client of the account in this process: those with the same
        `pacer_key`, by default the base URL. None sends as fast as `concurrency` allows.

        `max_throttle_wait` is how long one request may wait out 429s before it gives up.
        """
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
        if requests_per_minute is not None and not requests_per_minute > 0:
            raise ValueError(f"requests_per_minute must be > 0 or None, not {requests_per_minute}")
        self.stats = ClientStats()
        self.per_page = per_page
        self.concurrency = concurrency
        self._http = Transport(
            base_url,
            app_key,
            app_token,
            concurrency=concurrency,
            policy=RetryPolicy(max_retries=max_retries, max_backoff=max_backoff, max_throttle_wait=max_throttle_wait),
            timeout=timeout,
            sleep=sleep,
            stats=self.stats,
            pacers=()
            if requests_per_minute is None
            else (shared_pacer(pacer_key or account_key(base_url), requests_per_minute),),
        )
        self._orders_url = str(URL(self._http.base_url) / "api/oms/pvt/orders")

    def __repr__(self) -> str:
        return f"VtexClient({self._http.base_url!r}, concurrency={self.concurrency})"

    @property
    def pacer(self) -> Pacer | None:
        """The account's shared budget, or None when the client is not paced."""
        return self._http.pacers[0] if self._http.pacers else None

    async def __aenter__(self) -> VtexClient:
        await self._http.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.close()

    async def get_order(self, order_id: str) -> bytes:
        """The raw body of get-order: bytes that parse as a JSON object.

        Raises NotFoundError (404), MalformedBodyError (bad body after every retry, the last one in
        its `body`), TransientSourceError (5xx, network, after every retry; 429s only after
        `max_throttle_wait`) or SourceError (anything else).
        """
        return (await self._fetch_order(order_id)).raw

    async def _fetch_order(self, order_id: str) -> OrderBody:
        self.stats.get_calls += 1
        url = URL(f"{self._orders_url}/{quote(order_id, safe='')}", encoded=True)
        what = f"get order {order_id}"
        body, head = await self._http.get_json(
            url, what, endpoint=Endpoint.GET_ORDER, parse=decode_order_head, record=True
        )
        return OrderBody(body, head)

    async def get_orders(self, order_ids: Iterable[str]) -> AsyncIterator[tuple[str, bytes | Exception]]:
        """(order_id, body) as each completes. A 404 or a body still malformed after every retry comes
        back as the exception, for quarantine; anything else (auth, the API down) raises."""
        async for order_id, got in self.fetch_orders(order_ids):
            yield order_id, got if isinstance(got, Exception) else got.raw

    async def fetch_orders(self, order_ids: Iterable[str]) -> AsyncIterator[tuple[str, OrderBody | Exception]]:
        """As get_orders, with each body's head fields already decoded (OrderBody)."""
        ids = iter(order_ids)
        # Twice the concurrency, so requests sleeping out a backoff do not leave connections idle.
        limit = 2 * self.concurrency
        done: asyncio.Queue[asyncio.Task[tuple[str, OrderBody | Exception]]] = asyncio.Queue()
        running: set[asyncio.Task[tuple[str, OrderBody | Exception]]] = set()
        more = True
        try:
            while True:
                while more and len(running) < limit:
                    try:
                        order_id = next(ids)
                    except StopIteration:
                        more = False
                        break
                    task = asyncio.create_task(self._get_one(order_id))
                    task.add_done_callback(done.put_nowait)
                    running.add(task)
                if not running:
                    return
                task = await done.get()
                running.discard(task)
                yield task.result()
        finally:
            await _cancel(running)

    async def _get_one(self, order_id: str) -> tuple[str, OrderBody | Exception]:
        try:
            return order_id, await self._fetch_order(order_id)
        except (NotFoundError, MalformedBodyError) as exc:
            return order_id, exc

    async def list_window(self, field: DateField, start: datetime, end: datetime) -> AsyncIterator[list[ListEntry]]:
        """Pages of list entries covering every order whose `field` is in [start, end], both inclusive.

        Each order comes once per call, in no particular order. The ends are rounded outward to whole
        milliseconds (the filter's precision), so orders up to 1 ms outside may come too. Windows of
        more than 30 pages are split into time slices; pages are fetched concurrently.
        """
        if field not in DATE_FIELDS:
            raise ValueError(f"field must be one of {', '.join(DATE_FIELDS)}, not {field!r}")
        seen = SeenOrders(field)
        done: asyncio.Queue[asyncio.Task[_Page]] = asyncio.Queue()
        running: set[asyncio.Task[_Page]] = set()
        # Pages known to exist but not yet asked for. At most `limit` pages are in flight or read
        # and waiting for the caller, so memory follows the concurrency, not the window's size.
        pending: collections.deque[tuple[ListWindow, int]] = collections.deque()
        limit = 2 * self.concurrency
        # Pages asked for per window, or _SPLIT once the window is handed to its slices.
        asked: dict[ListWindow, int] = {}

        def fetch(window: ListWindow, first: int, last: int) -> None:
            pending.extend((window, number) for number in range(first, last + 1))
            seen.asked(window, last - first + 1)
            asked[window] = max(last, asked.get(window, 0))

        def launch() -> None:
            while pending and len(running) < limit:
                window, number = pending.popleft()
                if asked.get(window) == _SPLIT:
                    seen.done(window)
                    continue
                task = asyncio.create_task(self._list_page(field, window, number))
                task.add_done_callback(done.put_nowait)
                running.add(task)

        def split(window: ListWindow, total: int) -> None:
            if not window.splittable:
                raise SourceError(
                    f"list orders {field} {window}: {total} orders in one millisecond, more than VTEX "
                    f"serves for one query ({MAX_PAGES} pages of {self.per_page}); the window cannot be split"
                )
            self.stats.splits += 1
            asked[window] = _SPLIT
            parts = window.split(math.ceil(total / (TARGET_PAGES * self.per_page)))
            seen.split(window, parts)
            for part in parts:
                fetch(part, 1, 1)

        fetch(ListWindow.covering(start, end), 1, 1)
        launch()
        try:
            while running:
                task = await done.get()
                running.discard(task)
                page = task.result()
                # Page 1 sizes the window; any later page may show it grew while we read.
                have = asked[page.window]
                if have != _SPLIT and page.pages > have:
                    if page.pages > MAX_PAGES:
                        split(page.window, page.total)
                    else:
                        fetch(page.window, have + 1, page.pages)
                fresh = [entry for entry in page.entries if seen.first_time(page.window, entry)]
                seen.done(page.window)
                if fresh:
                    yield fresh
                launch()
        finally:
            await _cancel(running)

    async def window_totals(self, field: DateField, start: datetime, end: datetime) -> tuple[int, int | None]:
        """(orders, sum of totalValue in cents) the source reports for one window, in one call.

        The list's `paging.total` counts every match and `stats` sums totalValue over all of them,
        so reconciling a day costs one request whatever its size. The sum is None when not reported.
        """
        self.stats.list_calls += 1
        window = ListWindow.covering(start, end)
        query = urlencode({f"f_{field}": window.filter_value(field), "per_page": 1, "page": 1}, quote_via=quote)
        url = URL(f"{self._orders_url}?{query}", encoded=True)
        _, doc = await self._http.get_json(
            url, f"list totals {field} {window}", endpoint=Endpoint.LIST_ORDERS, parse=_list_doc, record=False
        )
        total: int = doc["paging"]["total"]
        try:
            value = doc["stats"]["stats"]["totalValue"]["Sum"]
            cents = None if value is None else round(float(value))
        except (KeyError, TypeError, ValueError):
            cents = None
        return total, cents

    async def _list_page(self, field: DateField, window: ListWindow, number: int) -> _Page:
        self.stats.list_calls += 1
        query = urlencode(
            {
                f"f_{field}": window.filter_value(field),
                "per_page": self.per_page,
                "orderBy": "creationDate,asc",
                "page": number,
            },
            quote_via=quote,
        )
        url = URL(f"{self._orders_url}?{query}", encoded=True)
        what = f"list orders {field} {window} page {number}"
        _, doc = await self._http.get_json(url, what, endpoint=Endpoint.LIST_ORDERS, parse=_list_doc, record=False)
        entries: list[ListEntry] = []
        for item in doc["list"]:
            entry = parse_list_item(item)
            if entry is None:
                self.stats.bad_list_items += 1
                logger.warning("%s: skipped an item without orderId or a readable creationDate", what)
            else:
                entries.append(entry)
        paging = doc["paging"]
        total: int = paging["total"]
        pages = paging.get("pages")
        if not isinstance(pages, int):
            pages = math.ceil(total / self.per_page)
        return _Page(window, number, entries, total, pages)


def _list_doc(body: bytes) -> dict[str, Any]:
    """A list response's JSON; ValueError unless it has a `list` and a `paging.total`."""
    doc = orjson.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("list"), list):
        raise ValueError("not a list response")
    paging = doc.get("paging")
    if not isinstance(paging, dict) or not isinstance(paging.get("total"), int):
        raise ValueError("not a list response")
    return doc


async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
