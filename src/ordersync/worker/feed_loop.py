"""Polling the VTEX feeds every `[feed] poll_seconds`, in a thread beside serve's or the worker's
other loops.

On DuckDB the loop shares its facade with the others, and so their lock. On PostgreSQL the worker gives it a facade of
its own, and rounds run beside the tick's syncs (each tenant's feed is leased on its own stream).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from ordersync.facade import Ordersync
from ordersync.sources.vtex.feed import FeedRound

log = logging.getLogger("ordersync.feed")


class FeedLoop:
    def __init__(
        self,
        app: Ordersync,
        stop: threading.Event,
        *,
        lock: threading.Lock | None = None,
        on_landed: Callable[[], None] = lambda: None,
        owns_app: bool = False,
    ) -> None:
        """`owns_app`: close the facade when the loop ends (one made for the loop alone)."""
        self.app = app
        self.stop = stop
        self.lock = lock
        self.on_landed = on_landed
        self.owns_app = owns_app
        self.every = app.settings.feed.poll_seconds

    def thread(self) -> threading.Thread:
        return threading.Thread(target=self.run, name="feed-poller", daemon=True)

    def run(self) -> None:
        """Poll until stopped; a round that stopped with events still waiting is followed at once."""
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                rounds = self.poll_once()
                if any(r.backlog for r in rounds):
                    continue
                self.stop.wait(max(0.0, self.every - (time.monotonic() - began)))
        finally:
            if self.owns_app:
                self.app.close()

    def poll_once(self) -> list[FeedRound]:
        """One round for every feed tenant; an error outside the tenants' rounds is logged and the
        next poll carries on (the events wait in the store's queue)."""
        with self.lock or contextlib.nullcontext():
            try:
                rounds = self.app.feed_poll()
            except Exception as exc:
                log.error("polling the feeds failed, the next poll carries on: %s", exc)
                self.app.reconnect()
                return []
        if any(r.landed for r in rounds):
            self.on_landed()
        return rounds
