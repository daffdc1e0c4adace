"""VTEX's Feed v3 and Hook endpoints for one store account: read and commit the feed, read and
write the feed's and the hook's configuration.

Every attempt waits for two budgets: the feed's own (`[feed] requests_per_minute`, at most the 500 a
minute VTEX's example consumer keeps to) and the account's, shared with the pull's requests; the
transport, pacing and retry are the pull's (ordersync.sources.http). A 429 holds both budgets and is
not waited out here as the pull does: it raises FeedThrottledError at once, so the caller can stop
asking the account for a while (VTEX: "stop making additional API requests").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import orjson
from yarl import URL

from ordersync.config import FeedSettings, SyncSettings
from ordersync.dates import parse_vtex_datetime
from ordersync.errors import ConfigError, FeedThrottledError, SourceError, TransientSourceError
from ordersync.secrets import read_secret
from ordersync.sources.http.pacing import account_key, shared_pacer
from ordersync.sources.http.retry import MAX_BACKOFF_SECONDS, RetryPolicy
from ordersync.sources.http.transport import ClientStats, Endpoint, Transport
from ordersync.tenants import Tenant

MAX_LOT = 10  # VTEX: "Maximum accepted value is 10"
MAX_COMMIT = 10  # handles per commit call
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One item of a feed read: its handle (what commits it), the order it names, and its bytes."""

    handle: str | None
    order_id: str | None
    state: str | None
    raw: bytes
    #: when the order entered its state (the event's currentChange), if readable
    changed_at: datetime | None = None


@dataclass
class ApiStats:
    requests: int = 0
    throttled: int = 0
    http: ClientStats = field(default_factory=ClientStats)

    @property
    def pace_wait_seconds(self) -> float:
        """Seconds calls waited for the two budgets (held after a 429 included)."""
        return self.http.pace_wait_seconds + self.http.throttle_wait_seconds


def feed_pacer_key(base_url: str) -> str:
    return f"{account_key(base_url)} feed"


class EventsApi:
    """The feed and hook endpoints of one tenant's store, on a session of their own."""

    def __init__(
        self,
        tenant: Tenant,
        sync: SyncSettings,
        feed: FeedSettings,
        *,
        wait_out_429: bool = False,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`wait_out_429`: wait 429s out like the pull does (setup, run by a person once) instead of
        raising FeedThrottledError (the poll, which backs off for the tenant)."""
        if tenant.base_url is None:
            raise ConfigError(f"tenant {tenant.tenant_name!r} has no store API (platform {tenant.platform})")
        self.tenant = tenant
        self.stats = ApiStats()
        self._backoff = feed.backoff_seconds
        policy = RetryPolicy(
            max_retries=sync.max_retries,
            max_backoff=sync.max_backoff_seconds,
            max_throttle_wait=sync.max_backoff_seconds * 10 if wait_out_429 else 0.0,
        )
        self._http = Transport(
            tenant.base_url,
            read_secret(tenant.app_key_env, f"tenant {tenant.tenant_name} app key"),
            read_secret(tenant.app_token_env, f"tenant {tenant.tenant_name} app token"),
            concurrency=2,
            policy=policy,
            timeout=sync.request_timeout_seconds,
            sleep=sleep,
            stats=self.stats.http,
            # Two budgets, reserved one after the other: the feed's cap and the account's share.
            pacers=(
                shared_pacer(feed_pacer_key(tenant.base_url), feed.requests_per_minute),
                shared_pacer(account_key(tenant.base_url), sync.requests_per_minute),
            ),
        )
        self._root = URL(self._http.base_url) / "api/orders"

    async def __aenter__(self) -> EventsApi:
        await self._http.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.close()

    # -- the feed ------------------------------------------------------------------------------
    async def read_feed(self, maxlot: int = MAX_LOT) -> list[FeedEvent]:
        """One lot of at most `maxlot` events; they stay hidden from other reads for the queue's
        visibility timeout. SourceError 404 when the app key has no feed configuration."""
        url = (self._root / "feed").with_query(maxlot=maxlot)
        name = self.tenant.tenant_name
        try:
            _, events = await self._call("GET", url, f"read feed of {name}", Endpoint.FEED_READ, None, _feed_events)
        except SourceError as exc:
            if exc.status != 404:
                raise
            raise SourceError(
                f"read feed of {name}: the store has no feed for this app key (HTTP 404); VTEX removes one "
                "that received no event for its retention period (4 days). Run "
                f"`ordersync feed setup --tenant {name}` again",
                404,
            ) from None
        return events

    async def commit(self, handles: list[str]) -> None:
        """Remove these events (at most MAX_COMMIT) from the feed. A handle that is no longer the
        event's latest (it was read again since) removes nothing: that event comes back."""
        if not 0 < len(handles) <= MAX_COMMIT:
            raise ValueError(f"commit 1 to {MAX_COMMIT} handles a call, not {len(handles)}")
        body = orjson.dumps({"handles": handles})
        what = f"commit feed of {self.tenant.tenant_name}"
        await self._call("POST", self._root / "feed", what, Endpoint.FEED_COMMIT, body, _any)

    # -- configurations ------------------------------------------------------------------------
    async def get_config(self, kind: str) -> dict[str, Any] | None:
        """The store's feed or hook (`kind`) configuration for this app key, None when it has none."""
        try:
            url = self._config_url(kind)
            _, doc = await self._call("GET", url, f"get {kind} configuration", _config_endpoint(kind), None, _object)
        except SourceError as exc:
            if exc.status == 404:
                return None
            raise
        return doc

    async def put_config(self, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        """Write the feed or hook configuration; the store's answer (an object, possibly empty)."""
        _, doc = await self._call(
            "POST",
            self._config_url(kind),
            f"write {kind} configuration",
            _config_endpoint(kind),
            orjson.dumps(config),
            _object_or_empty,
        )
        return doc

    def _config_url(self, kind: str) -> URL:
        if kind not in ("feed", "hook"):
            raise ValueError(f"kind must be feed or hook, not {kind!r}")
        return self._root / kind / "config"

    # -- every call ----------------------------------------------------------------------------
    async def _call(
        self, method: str, url: URL, what: str, endpoint: Endpoint, data: bytes | None, parse: Callable[[bytes], T]
    ) -> tuple[bytes, T]:
        self.stats.requests += 1
        try:
            return await self._http.send_json(
                method, url, what, endpoint=endpoint, data=data, parse=parse, record=False
            )
        except TransientSourceError as exc:
            if exc.status != 429:
                raise
            self.stats.throttled += 1
            # The transport has held both budgets; the feed pauses longer (the store's word, capped).
            wait = max(self._backoff, min(exc.retry_after or 0.0, MAX_BACKOFF_SECONDS))
            raise FeedThrottledError(
                f"{what}: the store answered 429 (too many requests); its feed is left alone for {wait:g} s",
                429,
                wait,
            ) from None
        except SourceError as exc:
            if exc.status in (401, 403):
                raise SourceError(
                    f"{exc}; feed and hook calls also need the 'Feed v3 and Hook Admin' resource", exc.status
                ) from None
            raise


def _config_endpoint(kind: str) -> Endpoint:
    return Endpoint.FEED_CONFIG if kind == "feed" else Endpoint.HOOK_CONFIG


def _changed_at(value: Any) -> datetime | None:
    try:
        return parse_vtex_datetime(value)
    except ValueError:
        return None


def _any(body: bytes) -> bytes:
    return body


def _object(body: bytes) -> dict[str, Any]:
    doc = orjson.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _object_or_empty(body: bytes) -> dict[str, Any]:
    return _object(body) if body.strip() else {}


def _feed_events(body: bytes) -> list[FeedEvent]:
    """A feed read's events; ValueError (retried as malformed) unless the body is a JSON array."""
    doc = orjson.loads(body)
    if not isinstance(doc, list):
        raise ValueError("a feed read answers a JSON array")
    events = []
    for item in doc:
        raw = orjson.dumps(item)
        if not isinstance(item, dict):
            events.append(FeedEvent(None, None, None, raw))
            continue
        handle, order_id, state = item.get("handle"), item.get("orderId"), item.get("state")
        events.append(
            FeedEvent(
                handle if isinstance(handle, str) and handle else None,
                order_id if isinstance(order_id, str) and 0 < len(order_id) <= 200 else None,
                state if isinstance(state, str) else None,
                raw,
                _changed_at(item.get("currentChange")),
            )
        )
    return events
