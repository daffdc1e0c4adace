"""Hook: the store POSTs a notification to a configured URL for each order change its filter selects.

Deliveries run in one background task of the simulator's event loop. A delivery succeeds only on
HTTP 200 within the timeout; otherwise it is retried after a geometrically growing delay and given up
after `max_attempts` failures or once the change is `max_age_seconds` old (simulated time). The retry
delays are real seconds, so a receiver that was down catches up even while the simulated clock is
frozen; tests make them short.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from ordersync.simulator.changes import ConfigError, EventFilter, OrderChange

log = logging.getLogger(__name__)

PING_BODY = b'{"hookConfig":"ping"}'
_US = 1_000_000
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass
class HookSettings:
    """How deliveries are timed; changeable at run time through the control API."""

    timeout_seconds: float = 5.0
    retry_base_seconds: float = 1.0
    retry_factor: float = 2.0
    retry_max_seconds: float = 3600.0
    max_attempts: int = 100
    max_age_seconds: float = 345_600.0  # 4 days of simulated time
    duplicate_rate: float = 0.0
    concurrency: int = 32
    tick_seconds: float = 0.05  # how often the worker looks at the clock when nothing wakes it

    def retry_delay(self, failures: int) -> float:
        """Real seconds to wait after the n-th failed attempt (n >= 1)."""
        return min(self.retry_max_seconds, self.retry_base_seconds * self.retry_factor ** (failures - 1))


@dataclass
class HookConfig:
    account: str
    app_key: str
    filter: EventFilter
    url: str
    headers: dict[str, str]
    created_us: int
    last_notified_us: int = 0
    fired: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"filter": self.filter.to_json(), "hook": {"url": self.url, "headers": dict(self.headers)}}

    def expired(self, now_us: int) -> bool:
        """VTEX removes a hook that had no notification for three days."""
        return now_us - max(self.created_us, self.last_notified_us) >= 3 * 86_400 * _US


@dataclass(slots=True)
class Delivery:
    seq: int
    account: str
    app_key: str
    body: bytes
    event_us: int
    attempts: int = 0


@dataclass
class HookCounters:
    notifications: int = 0  # deliveries created, duplicates included
    duplicates: int = 0
    attempted: int = 0  # HTTP attempts
    succeeded: int = 0
    failed: int = 0  # failed attempts
    dropped: int = 0  # deliveries given up (attempts or age exhausted, or the hook removed)
    pings: int = 0
    pings_failed: int = 0


def check_hook_body(raw: Any) -> tuple[str, dict[str, str]]:
    """(url, headers) of a hook configuration's `hook` object."""
    if not isinstance(raw, dict):
        raise ConfigError(400, "hook must be an object with a url")
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(400, "hook.url is required")
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    local = host in _LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")
    if parts.scheme == "https" and host:
        pass
    elif parts.scheme == "http" and local:
        pass  # plain http only for receivers on this machine, so tests need no certificates
    else:
        raise ConfigError(400, "Unable to check address / Only https scheme is accepted")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError(400, "hook.headers must be an object of string values")
    return url, headers


def notification(change: OrderChange, account: str, app_key: str) -> bytes:
    return orjson.dumps(
        {
            "Domain": change.domain,
            "OrderId": change.order_id,
            "State": change.state,
            "LastState": change.last_state,
            "LastChange": change.last_change,
            "CurrentChange": change.current_change,
            "Origin": {"Account": account, "Key": app_key},
        }
    )


class HookDispatcher:
    """Hook configurations and their pending deliveries."""

    def __init__(
        self,
        settings: HookSettings,
        seed: int,
        sim_now_us: Callable[[], int],
        pump: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.configs: dict[tuple[str, str], HookConfig] = {}
        self.counters = HookCounters()
        self._sim_now_us = sim_now_us
        self._pump = pump
        self._monotonic = monotonic
        self._rng = random.Random(seed * 31 + 7)
        self._pending: dict[int, Delivery] = {}
        self._due: list[tuple[float, int]] = []  # heap of (monotonic due time, seq)
        self._seq = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None

    # configuration ------------------------------------------------------------------------------

    def accounts(self) -> set[str]:
        return {account for account, _ in self.configs}

    async def ping(self, url: str, headers: dict[str, str]) -> str | None:
        """None when the URL answers the ping with 200, else what went wrong."""
        self.counters.pings += 1
        try:
            status = await self._post(url, headers, PING_BODY)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.counters.pings_failed += 1
            return f"the ping to {url} failed: {type(exc).__name__}: {exc}"
        if status != 200:
            self.counters.pings_failed += 1
            return f"the ping to {url} answered {status}, not 200"
        return None

    def configure(self, config: HookConfig) -> None:
        old = self.configs.get((config.account, config.app_key))
        if old is not None and old.filter == config.filter:
            config.fired = old.fired
        self.configs[(config.account, config.app_key)] = config
        self._ensure_worker()

    def remove(self, account: str, app_key: str) -> bool:
        return self.configs.pop((account, app_key), None) is not None

    def remove_expired(self, now_us: int) -> None:
        for key, config in list(self.configs.items()):
            if config.expired(now_us):
                del self.configs[key]

    # producing ----------------------------------------------------------------------------------

    def offer(self, account: str, changes: list[OrderChange]) -> None:
        """Queue a notification per change each of the account's hooks selects."""
        due = self._monotonic()
        for (acc, key), config in self.configs.items():
            if acc != account:
                continue
            filt = config.filter
            single = filt.type == "FromOrders" and not filt.disable_single_fire
            for change in changes:
                if not filt.matches(change):
                    continue
                if single:
                    if change.order_id in config.fired:
                        continue
                    config.fired.add(change.order_id)
                body = notification(change, account, key)
                copies = 1
                if self.settings.duplicate_rate > 0 and self._rng.random() < self.settings.duplicate_rate:
                    copies = 2
                    self.counters.duplicates += 1
                for _ in range(copies):
                    seq = next(self._seq)
                    self._pending[seq] = Delivery(seq, account, key, body, change.at_us)
                    heapq.heappush(self._due, (due, seq))
                    self.counters.notifications += 1
                config.last_notified_us = max(config.last_notified_us, change.at_us)
        if self._pending:
            self.wake()

    # delivering ---------------------------------------------------------------------------------

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="ordersync-simulator-hooks")

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            try:
                self._pump()
                self._launch_due()
            except Exception:  # the worker must outlive a bad tick
                log.exception("hook worker tick failed")
            timeout = self.settings.tick_seconds
            if self._due and len(self._inflight) < self.settings.concurrency:
                timeout = min(timeout, max(0.0, self._due[0][0] - self._monotonic()))
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    def _launch_due(self) -> None:
        now = self._monotonic()
        while self._due and self._due[0][0] <= now and len(self._inflight) < self.settings.concurrency:
            _, seq = heapq.heappop(self._due)
            delivery = self._pending.get(seq)
            if delivery is None:
                continue
            task = asyncio.get_running_loop().create_task(self._attempt(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            config = self.configs.get((delivery.account, delivery.app_key))
            if config is None or self._too_old(delivery):
                self._drop(delivery)
                return
            self.counters.attempted += 1
            delivery.attempts += 1
            try:
                status = await self._post(config.url, config.headers, delivery.body)
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = 0
            if status == 200:
                self.counters.succeeded += 1
                del self._pending[delivery.seq]
                return
            self.counters.failed += 1
            if delivery.attempts >= self.settings.max_attempts or self._too_old(delivery):
                self._drop(delivery)
                return
            due = self._monotonic() + self.settings.retry_delay(delivery.attempts)
            heapq.heappush(self._due, (due, delivery.seq))
        finally:
            self.wake()

    def _too_old(self, delivery: Delivery) -> bool:
        return self._sim_now_us() - delivery.event_us >= self.settings.max_age_seconds * _US

    def _drop(self, delivery: Delivery) -> None:
        if self._pending.pop(delivery.seq, None) is not None:
            self.counters.dropped += 1

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        sent = {"Content-Type": "application/json", **headers}
        async with self._session.post(url, data=body, headers=sent, timeout=timeout, allow_redirects=False) as resp:
            await resp.read()
            return resp.status

    async def close(self) -> None:
        tasks = [t for t in (self._worker, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # reporting ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        c = self.counters
        return {
            "configs": [
                {"account": cfg.account, "app_key": cfg.app_key, **cfg.to_json()} for cfg in self.configs.values()
            ],
            "notifications": c.notifications,
            "duplicates": c.duplicates,
            "attempted": c.attempted,
            "succeeded": c.succeeded,
            "failed": c.failed,
            "dropped": c.dropped,
            "pending": len(self._pending),
            "in_flight": len(self._inflight),
            "pings": c.pings,
            "pings_failed": c.pings_failed,
        }
