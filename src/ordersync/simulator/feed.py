"""Feed v3: one queue per (account, app key), with the at-least-once, unordered semantics VTEX documents.

The queue behaves like the SQS standard queue it is built on: a read hides what it returns for the
visibility timeout, each read of an item gives it a new handle and only the latest handle commits it,
items older than the retention period are dropped committed or not, and some events are enqueued
twice. Every time here is simulated time, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ordersync.simulator.changes import EventFilter, OrderChange

_US = 1_000_000
# A read picks its items at random among this many times maxlot of the oldest visible ones: no order
# is promised, yet nothing waits for ever behind newer items.
_CANDIDATE_FACTOR = 3


@dataclass(slots=True)
class FeedItem:
    seq: int
    change: OrderChange
    enqueued_us: int
    handle: str | None = None
    receives: int = 0
    visible_at_us: int = 0


@dataclass
class FeedCounters:
    enqueued: int = 0  # items put in the queue, duplicates included
    duplicates: int = 0  # extra copies among them
    received: int = 0  # items handed out by reads, redeliveries included
    redelivered: int = 0  # reads of an item read before
    committed: int = 0
    expired: int = 0  # dropped at the end of the retention period

    def to_json(self) -> dict[str, int]:
        return {
            "enqueued": self.enqueued,
            "duplicates": self.duplicates,
            "received": self.received,
            "redelivered": self.redelivered,
            "committed": self.committed,
            "expired": self.expired,
        }


@dataclass
class FeedQueue:
    """The feed of one app key at one account."""

    account: str
    app_key: str
    filter: EventFilter
    visibility_s: int
    retention_s: int
    created_us: int
    rng: random.Random
    duplicate_rate: float = 0.0
    last_event_us: int = 0
    counters: FeedCounters = field(default_factory=FeedCounters)
    _items: dict[int, FeedItem] = field(default_factory=dict)
    _visible: dict[int, FeedItem] = field(default_factory=dict)  # insertion order ~ age
    _hidden: list[tuple[int, int, int]] = field(default_factory=list)  # heap of (visible_at, seq, receives)
    _by_age: deque[tuple[int, int]] = field(default_factory=deque)  # (enqueued_us, seq), oldest first
    _handles: dict[str, int] = field(default_factory=dict)
    _fired: set[str] = field(default_factory=set)  # FromOrders single fire: orders already reported
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.last_event_us = self.created_us

    def reconfigure(self, filt: EventFilter, visibility_s: int, retention_s: int) -> None:
        """A new configuration keeps the queued events until they are committed or expire."""
        if filt != self.filter:
            self._fired.clear()
        self.filter, self.visibility_s, self.retention_s = filt, visibility_s, retention_s

    # producing ----------------------------------------------------------------------------------

    def offer(self, changes: list[OrderChange]) -> None:
        """Enqueue the changes this feed's filter selects (changes come in time order)."""
        filt = self.filter
        single = filt.type == "FromOrders" and not filt.disable_single_fire
        for change in changes:
            if not filt.matches(change):
                continue
            if single:
                if change.order_id in self._fired:
                    continue
                self._fired.add(change.order_id)
            self._put(change)
            if self.duplicate_rate > 0 and self.rng.random() < self.duplicate_rate:
                self.counters.duplicates += 1
                self._put(change)
            self.last_event_us = max(self.last_event_us, change.at_us)

    def _put(self, change: OrderChange) -> None:
        seq = next(self._seq)
        item = FeedItem(seq, change, change.at_us, visible_at_us=change.at_us)
        self._items[seq] = item
        self._visible[seq] = item
        self._by_age.append((change.at_us, seq))
        self.counters.enqueued += 1

    # consuming ----------------------------------------------------------------------------------

    def receive(self, maxlot: int, now_us: int) -> list[dict[str, Any]]:
        """Up to maxlot visible items, in no particular order; they stay hidden for the visibility timeout."""
        self.expire(now_us)
        self._reveal(now_us)
        candidates = list(itertools.islice(self._visible.values(), maxlot * _CANDIDATE_FACTOR))
        picked = self.rng.sample(candidates, min(maxlot, len(candidates)))
        hidden_until = now_us + self.visibility_s * _US
        out: list[dict[str, Any]] = []
        for item in picked:
            del self._visible[item.seq]
            if item.handle is not None:
                self._handles.pop(item.handle, None)
                self.counters.redelivered += 1
            item.receives += 1
            item.handle = self._new_handle()
            item.visible_at_us = hidden_until
            self._handles[item.handle] = item.seq
            heapq.heappush(self._hidden, (hidden_until, item.seq, item.receives))
            self.counters.received += 1
            c = item.change
            out.append(
                {
                    "eventId": c.event_id,
                    "handle": item.handle,
                    "domain": c.domain,
                    "state": c.state,
                    "lastState": c.last_state,
                    "orderId": c.order_id,
                    "lastChange": c.last_change,
                    "currentChange": c.current_change,
                }
            )
        return out

    def commit(self, handles: list[str]) -> int:
        """Remove the items of these handles; a stale handle (the item was read again since) removes nothing."""
        removed = 0
        for handle in handles:
            seq = self._handles.pop(handle, None)
            if seq is None:
                continue
            item = self._items.pop(seq, None)
            if item is None:
                continue
            self._visible.pop(seq, None)
            removed += 1
        self.counters.committed += removed
        return removed

    def _new_handle(self) -> str:
        return "AQEB" + base64.b64encode(self.rng.randbytes(96)).decode()

    def _reveal(self, now_us: int) -> None:
        """Items whose visibility timeout has passed become visible again."""
        heap = self._hidden
        while heap and heap[0][0] <= now_us:
            _, seq, receives = heapq.heappop(heap)
            item = self._items.get(seq)
            if item is not None and item.receives == receives:
                self._visible[seq] = item

    def expire(self, now_us: int) -> None:
        """Drop every item older than the retention period, committed or not."""
        cutoff = now_us - self.retention_s * _US
        ages = self._by_age
        while ages and ages[0][0] <= cutoff:
            _, seq = ages.popleft()
            item = self._items.pop(seq, None)
            if item is None:
                continue
            self._visible.pop(seq, None)
            if item.handle is not None:
                self._handles.pop(item.handle, None)
            self.counters.expired += 1

    # reporting ----------------------------------------------------------------------------------

    def expired_config(self, now_us: int) -> bool:
        """VTEX removes a feed's configuration when no event reached it for a whole retention period."""
        return now_us - self.last_event_us >= self.retention_s * _US

    def quantity(self) -> int:
        """Messages in the queue, the hidden ones included."""
        return len(self._items)

    def oldest_age_seconds(self, now_us: int) -> float:
        ages = self._by_age
        while ages and ages[0][1] not in self._items:
            ages.popleft()
        return max(0.0, (now_us - ages[0][0]) / _US) if ages else 0.0

    def visible_count(self, now_us: int) -> int:
        self._reveal(now_us)
        return len(self._visible)

    def config_json(self, now_us: int) -> dict[str, Any]:
        self.expire(now_us)
        return {
            "filter": self.filter.to_json(),
            "queue": {
                "visibilityTimeoutInSeconds": self.visibility_s,
                "MessageRetentionPeriodInSeconds": self.retention_s,
            },
            "quantity": self.quantity(),
            "approximateAgeOfOldestMessageInSeconds": self.oldest_age_seconds(now_us),
        }

    def snapshot(self, now_us: int) -> dict[str, Any]:
        self.expire(now_us)
        visible = self.visible_count(now_us)
        return {
            "account": self.account,
            "app_key": self.app_key,
            "filter": self.filter.to_json(),
            "visibility_timeout_seconds": self.visibility_s,
            "retention_seconds": self.retention_s,
            "quantity": self.quantity(),
            "visible": visible,
            "invisible": self.quantity() - visible,
            **self.counters.to_json(),
        }
