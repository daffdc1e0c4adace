"""Where order changes meet their subscribers: the feeds and hooks of every account, and their HTTP routes.

Changes are computed lazily: whenever the feed or hook API is called, the clock is moved through the
control API, or the hook worker ticks, the changes since the last look are read off each account's
timelines and handed to that account's feeds and hooks. A feed or hook configured at time T receives
only what changes after T (no backfill), as at VTEX.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from ordersync.simulator.catalog import Catalog
from ordersync.simulator.changes import ConfigError, changes_between, parse_filter, parse_queue
from ordersync.simulator.clock import SimClock
from ordersync.simulator.feed import FeedQueue
from ordersync.simulator.hooks import HookConfig, HookDispatcher, HookSettings, check_hook_body

_US = 1_000_000
MAX_LOT = 10


@dataclass
class EventSettings:
    """Knobs of the feed and the hook; the simulator's config sets them, the control API changes them."""

    duplicate_rate: float = 0.01
    visibility_timeout_seconds: int = 240
    hook_timeout_seconds: float = 5.0
    hook_retry_base_seconds: float = 1.0
    hook_retry_factor: float = 2.0
    hook_retry_max_seconds: float = 3600.0
    hook_max_attempts: int = 100
    hook_max_age_seconds: float = 345_600.0

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, body: Any) -> None:
        """Apply a partial update; ValueError names the first bad key or value."""
        if not isinstance(body, dict) or not body:
            raise ValueError(f"expected an object with some of {sorted(self.to_json())}")
        known = {f.name: f for f in fields(self)}
        staged = self.to_json()
        for name, value in body.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {sorted(known)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            staged[name] = int(value) if known[name].type in ("int", int) else float(value)
        check = EventSettings(**staged)
        check.validate()
        for name, value in staged.items():
            setattr(self, name, value)

    def validate(self) -> None:
        if not 0 <= self.duplicate_rate <= 1:
            raise ValueError("duplicate_rate must be between 0 and 1")
        if self.visibility_timeout_seconds < 0 or self.hook_timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")
        if self.hook_retry_base_seconds < 0 or self.hook_retry_factor < 1 or self.hook_retry_max_seconds < 0:
            raise ValueError("hook retries need base >= 0, factor >= 1 and max >= 0")
        if self.hook_max_attempts < 1 or self.hook_max_age_seconds <= 0:
            raise ValueError("hook_max_attempts must be >= 1 and hook_max_age_seconds > 0")


class EventHub:
    """Feeds and hooks of every account, fed from the accounts' timelines."""

    def __init__(self, catalogs: dict[str, Catalog], clock: SimClock, settings: EventSettings, seed: int) -> None:
        self.catalogs = catalogs
        self.clock = clock
        self.settings = settings
        self.seed = seed
        start = clock.effective_us()
        self._cursor = dict.fromkeys(catalogs, start)
        self.feeds: dict[tuple[str, str], FeedQueue] = {}
        self.changes_seen: Counter[str] = Counter()
        self.hooks = HookDispatcher(self._hook_settings(), seed, clock.now_us, self.pump)

    def _hook_settings(self) -> HookSettings:
        s = self.settings
        return HookSettings(
            timeout_seconds=s.hook_timeout_seconds,
            retry_base_seconds=s.hook_retry_base_seconds,
            retry_factor=s.hook_retry_factor,
            retry_max_seconds=s.hook_retry_max_seconds,
            max_attempts=s.hook_max_attempts,
            max_age_seconds=s.hook_max_age_seconds,
            duplicate_rate=s.duplicate_rate,
        )

    def apply_settings(self, body: Any) -> None:
        self.settings.update(body)
        fresh = self._hook_settings()
        for f in fields(HookSettings):
            if f.name not in ("concurrency", "tick_seconds"):
                setattr(self.hooks.settings, f.name, getattr(fresh, f.name))
        for feed in self.feeds.values():
            feed.duplicate_rate = self.settings.duplicate_rate

    # producing ----------------------------------------------------------------------------------

    def pump(self) -> None:
        """Hand every change since the last pump to the feeds and hooks that want it."""
        t = self.clock.effective_us()
        now = self.clock.now_us()
        hooked = self.hooks.accounts()
        for account, cat in self.catalogs.items():
            start = self._cursor[account]
            if t <= start:
                continue
            self._cursor[account] = t
            feeds = [f for (acc, _), f in self.feeds.items() if acc == account]
            if not feeds and account not in hooked:
                continue
            # A change older than every retention period would be dropped on arrival: skip reading it.
            window = max([f.retention_s for f in feeds] + [int(self.settings.hook_max_age_seconds)])
            changes = changes_between(cat, max(start, now - window * _US), t)
            self.changes_seen[account] += len(changes)
            for feed in feeds:
                feed.offer(changes)
            if account in hooked:
                self.hooks.offer(account, changes)
        for key, feed in list(self.feeds.items()):
            if feed.expired_config(now):
                del self.feeds[key]
        self.hooks.remove_expired(now)

    # routes -------------------------------------------------------------------------------------

    def get_feed(self, account: str, app_key: str, params: dict[str, list[str]]) -> tuple[int, Any]:
        values = params.get("maxlot") or params.get("maxLot")
        raw = values[-1] if values else None
        try:
            maxlot = int(raw) if raw is not None else 0
        except ValueError:
            maxlot = 0
        if not 1 <= maxlot <= MAX_LOT:
            return 400, _error("400", f"maxlot must be a whole number from 1 to {MAX_LOT}, got {raw!r}")
        self.pump()
        feed = self.feeds.get((account, app_key))
        if feed is None:
            return 404, _no_feed(account, app_key)
        return 200, feed.receive(maxlot, self.clock.now_us())

    def commit_feed(self, account: str, app_key: str, body: Any) -> tuple[int, Any]:
        handles = body.get("handles") if isinstance(body, dict) else None
        if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
            return 400, _error("400", 'expected {"handles": ["<handle>", ...]}')
        self.pump()
        feed = self.feeds.get((account, app_key))
        if feed is None:
            return 404, _no_feed(account, app_key)
        feed.commit(handles)
        return 200, None

    def feed_config(self, method: str, account: str, app_key: str, body: Any) -> tuple[int, Any]:
        self.pump()
        key = (account, app_key)
        now = self.clock.now_us()
        if method == "GET":
            feed = self.feeds.get(key)
            return (200, feed.config_json(now)) if feed is not None else (404, _no_feed(account, app_key))
        if method == "DELETE":
            return (200, None) if self.feeds.pop(key, None) is not None else (404, _no_feed(account, app_key))
        if not isinstance(body, dict):
            return 400, _error("400", "the body must be a JSON object with filter and queue")
        try:
            filt = parse_filter(body.get("filter"))
            visibility, retention = parse_queue(body.get("queue"), self.settings.visibility_timeout_seconds)
        except ConfigError as exc:
            return exc.status, _error(str(exc.status), exc.message)
        feed = self.feeds.get(key)
        if feed is None:
            rng = random.Random((self.seed << 32) ^ zlib.crc32(f"{account}/{app_key}".encode()))
            feed = FeedQueue(account, app_key, filt, visibility, retention, now, rng, self.settings.duplicate_rate)
            self.feeds[key] = feed
        else:
            feed.reconfigure(filt, visibility, retention)
        return 200, feed.config_json(now)

    async def hook_config(self, method: str, account: str, app_key: str, body: Any) -> tuple[int, Any]:
        self.pump()
        key = (account, app_key)
        if method == "GET":
            config = self.hooks.configs.get(key)
            return (200, config.to_json()) if config is not None else (404, _no_hook(account, app_key))
        if method == "DELETE":
            return (200, None) if self.hooks.remove(account, app_key) else (404, _no_hook(account, app_key))
        if not isinstance(body, dict):
            return 400, _error("400", "the body must be a JSON object with filter and hook")
        try:
            filt = parse_filter(body.get("filter"))
            url, headers = check_hook_body(body.get("hook"))
        except ConfigError as exc:
            return exc.status, _error(str(exc.status), exc.message)
        problem = await self.hooks.ping(url, headers)
        if problem is not None:
            return 400, _error("400", f"Unable to check address: {problem}")
        self.pump()  # the ping took time: start the hook from now
        config = HookConfig(account, app_key, filt, url, headers, self.clock.now_us())
        self.hooks.configure(config)
        return 200, config.to_json()

    # reporting ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        self.pump()
        now = self.clock.now_us()
        return {
            "changes": dict(self.changes_seen),
            "feeds": [feed.snapshot(now) for feed in self.feeds.values()],
            "feed_queue_size": sum(feed.quantity() for feed in self.feeds.values()),
            "hooks": self.hooks.snapshot(),
            "settings": self.settings.to_json(),
        }

    async def close(self) -> None:
        await self.hooks.close()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "exception": None}}


def _no_feed(account: str, app_key: str) -> dict[str, Any]:
    return _error("404", f"no feed configuration for app key {app_key!r} at account {account!r}")


def _no_hook(account: str, app_key: str) -> dict[str, Any]:
    return _error("404", f"no hook configuration for app key {app_key!r} at account {account!r}")
