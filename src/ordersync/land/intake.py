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
from ordersync.coordination.leases import Fence, NoFence
from ordersync.errors import BadRecordError
from ordersync.land.lander import Lander, QuarantineRow, quarantine_row
from ordersync.land.records import Version
from ordersync.warehouse import Warehouse

#: Parses one item into a version, raising BadRecordError (only) with the reason.
Parse = Callable[["Item", ZoneInfo], Version]
#: The order id of a raw item, best effort (for the quarantine's order_id column).
OrderIdOf = Callable[[bytes], str | None]
#: Errors named in an answer (BatchResult.as_dict); the rest are counted.
MAX_ANSWER_ERRORS = 100


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
        """The answer: the first MAX_ANSWER_ERRORS errors and how many more there were (a batch of
        millions of bad items must not make an answer, or its stored copy, of hundreds of MB)."""
        return {
            "received": self.received,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "errors": [{"index": e.index, "reason": e.reason} for e in self.errors[:MAX_ANSWER_ERRORS]],
            "errors_omitted": max(len(self.errors) - MAX_ANSWER_ERRORS, 0),
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


@dataclass(frozen=True)
class PreparedBatch:
    """A batch parsed and checked without the warehouse (see prepare): what Intake.write stores."""

    tenant_id: int
    source: str
    run_id: str | None
    received: int
    #: items that parsed (landed or duplicates, once written)
    parsed: int
    #: the good versions, each distinct version once
    versions: tuple[Version, ...]
    #: the bad items' rows, the same bytes once
    quarantine: tuple[QuarantineRow, ...]
    #: every bad item (quarantined counts these, not the rows)
    errors: tuple[ItemError, ...]


def prepare(
    tenant_id: int,
    tz: ZoneInfo,
    items: Sequence[Item],
    source: str,
    run_id: str | None = None,
    *,
    parse: Parse,
    order_id_of: OrderIdOf,
) -> PreparedBatch:
    """Parse a batch and build what writing it needs, touching no warehouse: run it outside any lock."""
    good: dict[tuple[str, str], Version] = {}
    # The bad items by their bytes (kept once), with why: the same bytes again are not parsed again
    # (parsing depends on the bytes and the time zone alone), so a flood of one bad item costs little.
    bad: dict[bytes, QuarantineRow] = {}
    why: dict[bytes, str] = {}
    errors: list[ItemError] = []
    parsed = 0
    for index, item in enumerate(items):
        problem = why.get(item.raw)
        if problem is None:
            try:
                version = parse(item, tz)
            except BadRecordError as exc:
                problem = why[item.raw] = str(exc)
            else:
                parsed += 1
                good.setdefault((version.order_id, version.payload_hash), version)
                continue
        reason = f"{item.where}: {problem}" if item.where else problem
        errors.append(ItemError(index, reason))
        if item.raw not in bad:
            bad[item.raw] = quarantine_row(item.raw, reason, order_id_of(item.raw))
    return PreparedBatch(
        tenant_id=tenant_id,
        source=source,
        run_id=run_id,
        received=len(items),
        parsed=parsed,
        versions=tuple(good.values()),
        quarantine=tuple(bad.values()),
        errors=tuple(errors),
    )


class Intake:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.lander = Lander(wh, clock)

    def write(
        self,
        batch: PreparedBatch,
        *,
        fence: Fence | None = None,
        within: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Store a prepared batch in one transaction (fenced by `fence` when given); `within` runs
        inside that transaction with the result, for what must commit with it (an idempotency record)."""
        result = BatchResult(received=batch.received, errors=list(batch.errors))
        with (fence or NoFence()).transaction(self.wh):
            if batch.quarantine:
                self.lander.quarantine_rows(batch.tenant_id, batch.quarantine, batch.source, batch.run_id)
            landed = self.lander.land(batch.tenant_id, batch.versions, batch.source, batch.run_id)
            result.quarantined = len(batch.errors)
            result.landed = landed
            result.duplicates = batch.parsed - landed
            if within is not None:
                within(result)
        return result

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
        """prepare() then write(): one batch in one transaction."""
        batch = prepare(tenant_id, tz, items, source, run_id, parse=parse, order_id_of=order_id_of)
        return self.write(batch, fence=fence, within=within)
