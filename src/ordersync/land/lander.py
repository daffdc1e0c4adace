"""Append versions to cdp.orders_landing and bad records to cdp.quarantine, stamped with arrival time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.clock import Clock
from ordersync.errors import BadRecordError
from ordersync.land.records import Version, parse_order
from ordersync.warehouse import Warehouse


@dataclass
class LandResult:
    received: int = 0
    landed: int = 0
    quarantined: int = 0
    reasons: list[str] = field(default_factory=list)


class Lander:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.clock = clock

    def land(
        self,
        tenant_id: int,
        versions: Iterable[Version],
        source: str,
        run_id: str | None,
        *,
        known_new: bool = False,
    ) -> int:
        """Land versions (call inside a transaction); returns how many were new. `known_new` when the
        caller already excluded every version landed before (see Warehouse.insert_landing)."""
        now = self.clock.now()
        rows = [_row(tenant_id, v, now, source, run_id) for v in versions]
        return self.wh.insert_landing(rows, known_new=known_new)

    def quarantine(
        self,
        tenant_id: int,
        raw: bytes | str,
        reason: str,
        source: str,
        run_id: str | None,
        order_id: str | None = None,
    ) -> None:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        self.wh.execute(
            "INSERT INTO cdp.quarantine (tenant_id, source, run_id, order_id, reason, raw, quarantined_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, source, run_id, order_id, reason, text, self.clock.now()),
        )

    def land_raw(
        self, tenant_id: int, tz: ZoneInfo, records: Iterable[bytes | str], source: str, run_id: str | None
    ) -> LandResult:
        """Parse and land raw payloads in one transaction; bad ones are quarantined, the rest land."""
        result = LandResult()
        good: list[Version] = []
        with self.wh.transaction():
            for raw in records:
                result.received += 1
                try:
                    good.append(parse_order(raw, tz))
                except BadRecordError as exc:
                    result.quarantined += 1
                    result.reasons.append(str(exc))
                    self.quarantine(tenant_id, raw, str(exc), source, run_id)
            result.landed = self.land(tenant_id, good, source, run_id)
        return result


def _row(tenant_id: int, v: Version, now: datetime, source: str, run_id: str | None) -> tuple[Any, ...]:
    return (
        tenant_id,
        v.order_id,
        v.event_time,
        now,
        v.order_date,
        v.creation_date,
        v.status,
        v.total_value,
        v.currency_code,
        v.sales_channel,
        v.customer_id,
        v.customer_email,
        v.customer_name,
        v.payload,
        v.payload_hash,
        source,
        run_id,
    )
