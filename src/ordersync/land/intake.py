"""The one landing path for items that arrive in batches (pushed, ingested from files, fetched by
the feed and the hook): parse each, quarantine the bad ones with their reason, land the rest once
each (a version already landed counts as a duplicate), all in one transaction under the caller's
fence. One bad item never fails its batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.clock import Clock
from ordersync.errors import BadRecordError
from ordersync.land.lander import Lander
from ordersync.land.records import Version
from ordersync.sync.leases import Fence, NoFence
from ordersync.warehouse import Warehouse

#: Parses one item into a version, raising BadRecordError (only) with the reason.
Parse = Callable[["Item", ZoneInfo], Version]
#: The order id of a raw item, best effort (for the quarantine's order_id column).
OrderIdOf = Callable[[bytes], str | None]


@dataclass(frozen=True)
class ItemError:
    index: int
    reason: str


@dataclass
class BatchResult:
    received: int = 0
    landed: int = 0
    #: items whose identical version had already landed (or came twice in the batch)
    duplicates: int = 0
    quarantined: int = 0
    errors: list[ItemError] = field(default_factory=list)

    def add(self, other: BatchResult, *, offset: int = 0) -> None:
        self.received += other.received
        self.landed += other.landed
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.errors.extend(ItemError(e.index + offset, e.reason) for e in other.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "errors": [{"index": e.index, "reason": e.reason} for e in self.errors],
        }


@dataclass(frozen=True)
class Item:
    """One item as received: its bytes (kept byte for byte if it is quarantined); for file rows,
    where it came from ("orders.csv line 12"), which the quarantine reason then names; and, when
    the reader already decoded it (an element of a JSON array, a CSV row), the decoded value, so
    it is not decoded twice."""

    raw: bytes
    where: str | None = None
    value: Any = None


class Intake:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.lander = Lander(wh, clock)

    def land_items(
        self,
        tenant_id: int,
        tz: ZoneInfo,
        items: Sequence[Item],
        source: str,
        run_id: str | None = None,
        *,
        parse: Parse,
        order_id_of: OrderIdOf,
        fence: Fence | None = None,
        within: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Land one batch in one transaction (fenced by `fence` when given); `within` runs inside
        that transaction with the result, for what must commit with it (an idempotency record)."""
        result = BatchResult(received=len(items))
        good: dict[tuple[str, str], Version] = {}
        bad: list[tuple[Item, str]] = []
        parsed = 0
        for index, item in enumerate(items):
            try:
                version = parse(item, tz)
            except BadRecordError as exc:
                reason = f"{item.where}: {exc}" if item.where else str(exc)
                result.errors.append(ItemError(index, reason))
                bad.append((item, reason))
                continue
            parsed += 1
            good.setdefault((version.order_id, version.payload_hash), version)
        with (fence or NoFence()).transaction(self.wh):
            for item, reason in bad:
                self.lander.quarantine(tenant_id, item.raw, reason, source, run_id, order_id_of(item.raw))
            landed = self.lander.land(tenant_id, list(good.values()), source, run_id) if good else 0
            result.quarantined = len(bad)
            result.landed = landed
            result.duplicates = parsed - landed
            if within is not None:
                within(result)
        return result
