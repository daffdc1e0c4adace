"""The HTTP layer of the store APIs: one session per client, auth headers, bounded concurrency, pacing,
retries, error mapping.

A 429 is never a failure: the request waits as told (Retry-After, else a backoff) and goes on, without
counting against `max_retries` (those are for 5xx, timeouts and malformed bodies); only a request
still throttled after `max_throttle_wait` seconds of 429s in total gives up.

aiohttp's own exceptions stop here. They are never chained onto ours: their reprs carry the
request headers, and so the app token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import SecretStr
from yarl import URL

from ordersync import metrics
from ordersync.errors import MalformedBodyError, NotFoundError, SourceError, TransientSourceError
from ordersync.sources.http.pacing import Pacer
from ordersync.sources.http.retry import RETRIABLE_STATUSES, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger("ordersync.sources.http")

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

_INVALID = object()


class Endpoint(StrEnum):
    """Which of a store's endpoints a request asks (the label of its metrics)."""

    LIST_ORDERS = "list_orders"
    GET_ORDER = "get_order"
    FEED_READ = "feed_read"
    FEED_COMMIT = "feed_commit"
    FEED_CONFIG = "feed_config"
    HOOK_CONFIG = "hook_config"


@dataclass
class ClientStats:
    """Counters for one client. Calls count logical requests; `retries` counts the extra attempts
    (after 429s included); `throttled` the answers that were 429; `throttle_wait_seconds` the seconds
    requests waited because of 429s (their own Retry-After or the account's hold);
    `pace_wait_seconds` the seconds they waited for the account's budget."""

    list_calls: int = 0
    get_calls: int = 0
    retries: int = 0
    throttled: int = 0
    splits: int = 0
    bad_list_items: int = 0
    throttle_wait_seconds: float = 0.0
    pace_wait_seconds: float = 0.0


class _Failure:
    """Why an attempt failed, kept until we know whether to retry or give up."""

    __slots__ = ("body", "reason", "retry_after", "status")

    def __init__(
        self, reason: str, status: int | None, retry_after: float | None = None, body: bytes | None = None
    ) -> None:
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.body = body

    def error(self, what: str, retries: int) -> TransientSourceError:
        message = f"{what}: {self.reason}; gave up after {retries} retries"
        if self.status == 200:
            return MalformedBodyError(message, 200, body=self.body)
        return TransientSourceError(message, self.status, self.retry_after)


class Transport:
    def __init__(
        self,
        base_url: str,
        app_key: SecretStr,
        app_token: SecretStr,
        *,
        concurrency: int,
        policy: RetryPolicy,
        timeout: float,
        sleep: Sleep,
        stats: ClientStats,
        pacers: Sequence[Pacer] = (),
    ) -> None:
        """`pacers`: the budgets every attempt waits for, in turn (the pull: the account's; the feed:
        its own and the account's); a 429 holds each of them. None: as fast as `concurrency` allows."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.stats = stats
        self._concurrency = concurrency
        self._timeout = timeout
        self._sleep = sleep
        self.pacers = tuple(pacers)
        # Kept as SecretStr: the plain values exist only inside the session's default headers.
        self._credentials = (app_key, app_token)
        # With the connector's pool as big as the semaphore, no request waits for a connection,
        # so the total timeout measures the server alone.
        self._sem = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, concurrency={self._concurrency})"

    async def open(self) -> None:
        if self._session is not None:
            raise RuntimeError("the client is already open")
        import aiohttp  # kept off start-up: only commands that go on the network load it

        key, token = (c.get_secret_value() for c in self._credentials)
        headers = {
            "X-VTEX-API-AppKey": key,
            "X-VTEX-API-AppToken": token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def get_json(
        self, url: URL, what: str, *, endpoint: Endpoint, parse: Callable[[bytes], T], record: bool
    ) -> tuple[bytes, T]:
        """GET `url` until it answers 200 with a body `parse` accepts; the raw body and its parse.

        `parse` raises ValueError for a body that is not what was expected (retried as malformed).

        `record` says the URL names one order, so a 404 is that order's NotFoundError rather than
        a wrong base URL.
        """
        return await self.send_json("GET", url, what, endpoint=endpoint, parse=parse, record=record)

    async def send_json(
        self,
        method: str,
        url: URL,
        what: str,
        *,
        endpoint: Endpoint,
        data: bytes | None = None,
        parse: Callable[[bytes], T],
        record: bool,
    ) -> tuple[bytes, T]:
        """As get_json, with any method and a JSON request body; only for requests that are safe
        to repeat (a retry sends the body again). Every attempt is counted here, by `endpoint` and
        its answer (ordersync.metrics), and nowhere else."""
        import aiohttp

        session = self._session
        if session is None:
            raise RuntimeError("use the client inside `async with`")
        retries = 0  # failures that count against max_retries: everything but 429
        throttled = 0  # 429s answered to this request in a row
        throttle_waited = 0.0  # seconds this request was told to wait by its own 429s
        # The last malformed 200: a body that came back broken and never whole is a poison record
        # (quarantined) even when the last attempts met 5xx or timeouts in between.
        malformed: _Failure | None = None
        while True:
            async with self._sem:
                starts = await self._paced()
                answered = False  # counted by its status: a body cut short is not counted again
                try:
                    async with session.request(method, url, data=data, allow_redirects=False) as resp:
                        status = resp.status
                        metrics.store_request(endpoint, status)
                        answered = True
                        body = await resp.read()
                        if status != 429:
                            for pacer in self.pacers:
                                pacer.succeeded()
                        if status == 200:
                            try:
                                return body, parse(body)
                            except ValueError:
                                pass
                            failure = malformed = _Failure(f"malformed body ({len(body)} bytes)", 200, body=body)
                        elif status in RETRIABLE_STATUSES:
                            retry_after = None
                            if status == 429:
                                self.stats.throttled += 1
                                metrics.store_throttled(endpoint)
                                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                            failure = _Failure(f"HTTP {status}", status, retry_after)
                        else:
                            raise self._fatal(status, body, what, record, resp.headers.get("Location"))
                except aiohttp.InvalidURL:
                    raise SourceError(f"{what}: invalid URL {url}; check the tenant's base URL") from None
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if not answered:
                        metrics.store_request(endpoint, None)
                    failure = _Failure(self._describe(exc), None)
            if failure.status == 429:
                throttled += 1
                wait = self.policy.throttle_wait(failure.retry_after, throttled)
                # The account's budget is spent: the next slot of every client starts after the hold.
                for pacer, start in zip(self.pacers, starts, strict=True):
                    pacer.throttled(start, wait)
                if throttle_waited >= self.policy.max_throttle_wait:
                    raise TransientSourceError(
                        f"{what}: still HTTP 429 after waiting {throttle_waited:.0f}s in total for the "
                        f"account's rate limit at {self.base_url}; something else is using the account's "
                        "budget: lower [sync] requests_per_minute or try again later",
                        429,
                        failure.retry_after,
                    )
                self.stats.retries += 1
                metrics.store_retry(endpoint)
                throttle_waited += wait
                logger.info("%s: HTTP 429; waiting %.2fs (throttled %d times)", what, wait, throttled)
                if not self.pacers:  # else the wait is taken in the next slot
                    self.stats.throttle_wait_seconds += wait
                    await self._sleep(wait)
                continue
            throttled = 0
            if retries >= self.policy.max_retries:
                raise (malformed or failure).error(what, retries)
            retries += 1
            self.stats.retries += 1
            metrics.store_retry(endpoint)
            wait = self.policy.backoff(retries)
            logger.info("%s: %s; retry %d in %.2fs", what, failure.reason, retries, wait)
            await self._sleep(wait)

    async def _paced(self) -> list[float]:
        """Wait for this attempt's slot in each budget, in turn, and return the slots' starts.
        Without pacers, at once."""
        starts = []
        for pacer in self.pacers:
            while True:
                slot = pacer.reserve()
                if slot.wait > 0:
                    self.stats.throttle_wait_seconds += slot.held
                    self.stats.pace_wait_seconds += slot.wait - slot.held
                    await self._sleep(slot.wait)
                if pacer.valid(slot):
                    starts.append(slot.start)
                    break
        return starts

    def _fatal(self, status: int, body: bytes, what: str, record: bool, location: str | None) -> Exception:
        if status in (401, 403):
            why = "rejected the credentials" if status == 401 else "refused access"
            return SourceError(
                f"{what}: VTEX {why} (HTTP {status}) at {self.base_url}. Check the tenant's app key and "
                'app token environment variables, and that the key\'s role has the "List Orders" and '
                '"View order" resources (or "Orders Full Access").',
                status,
            )
        if status == 404 and record:
            return NotFoundError(f"{what}: VTEX has no such order (HTTP 404)")
        if status == 404:
            return SourceError(
                f"{what}: HTTP 404 at {self.base_url}; check the tenant's base URL "
                "(e.g. https://{account}.vtexcommercestable.com.br)",
                status,
            )
        if 300 <= status < 400:
            # Not followed: the auth headers would go wherever the redirect points.
            return SourceError(
                f"{what}: unexpected redirect (HTTP {status}) to {self._redact(location or '?')}; "
                "check the tenant's base URL",
                status,
            )
        return SourceError(f"{what}: HTTP {status}: {self._body_message(body)}", status)

    def _body_message(self, body: bytes) -> str:
        doc = _loads(body)
        message: Any = None
        if isinstance(doc, dict):
            error = doc.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            message = message or doc.get("message") or doc.get("Message")
        if not isinstance(message, str) or not message:
            message = body[:300].decode("utf-8", "replace").strip() or "(empty body)"
        return self._redact(message)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError) and not str(exc):
            return f"no answer within {self._timeout:g}s"
        return self._redact(f"{type(exc).__name__}: {exc}")

    def _redact(self, text: str) -> str:
        for credential in self._credentials:
            secret = credential.get_secret_value()
            if secret:
                text = text.replace(secret, "***")
        return text


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _INVALID
