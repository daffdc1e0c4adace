"""Drafting a plan: read the source for the plan's days (a backfill) and say, per tenant and day,
what applying it would do, without changing anything.

A backfill lists every order created on those days at the source and fetches the ones whose list
entry differs from what landed (all of them with `refetch`), like a sync does; the versions not yet
landed are the ones it would land. A restatement reads no source: it recomputes the days' derived
figures from fct_orders with the current [orders] settings.

What a plan would change is computed with the models' own rules (revisions/effects.py): per order,
the newest of its landed versions, the versions to land and its fct_orders row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ordersync.config import OrdersSettings, SyncSettings
from ordersync.errors import BadRecordError, ConfigError
from ordersync.land.records import Version, parse_order
from ordersync.revisions.asof import current
from ordersync.revisions.effects import (
    OrderVersion,
    current_of,
    current_rows,
    day_revenue,
    landed_of,
    newest,
)
from ordersync.sources.vtex.client import client_for
from ordersync.sources.vtex.listing import Known, needs_fetch
from ordersync.sync.reconcile import day_bounds, source_days
from ordersync.tenants import Tenant
from ordersync.tenants.platforms import PLATFORMS
from ordersync.warehouse import Warehouse

BACKFILL, RESTATE = "backfill", "restate"
_CENT = Decimal("0.01")


@dataclass
class SourceRead:
    """What the source holds for a tenant's days: totals per day and the fetched versions."""

    totals: dict[date, tuple[int, Decimal]] = field(default_factory=dict)
    versions: list[tuple[Version, str]] = field(default_factory=list)  # (version, raw payload text)
    listed: int = 0
    fetched: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def settings_hash(orders: OrdersSettings) -> str:
    text = json.dumps(orders.model_dump(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def day_list(day_from: date, day_to: date) -> list[date]:
    if day_to < day_from:
        raise ConfigError(f"--to {day_to} is before --from {day_from}")
    if (day_to - day_from).days > 3660:
        raise ConfigError("a plan covers at most ten years of days: split it")
    return [day_from + timedelta(days=i) for i in range((day_to - day_from).days + 1)]


def has_source(tenant: Tenant) -> bool:
    platform = PLATFORMS.get(tenant.platform)
    return platform is not None and platform.pulls and tenant.base_url is not None


async def read_source(
    tenant: Tenant, sync: SyncSettings, wh: Warehouse, day_from: date, day_to: date, refetch: bool
) -> SourceRead:
    """List the tenant's orders created on those days and fetch the changed ones (all with refetch)."""
    tz = tenant.tz
    read = SourceRead()
    async with client_for(tenant, sync) as client:
        days = day_list(day_from, day_to)
        for day, totals in (await source_days(client, tz, days)).items():
            read.totals[day] = (totals.orders, totals.total)
        start, _ = day_bounds(day_from, tz)
        _, end = day_bounds(day_to, tz)
        entries: dict[str, Any] = {}
        async for page in client.list_window("creationDate", start, end):
            for entry in page:
                entries[entry.order_id] = entry
        read.listed = len(entries)
        known: dict[str, Known] = {}
        for oid, versions in landed_of(wh, tenant.tenant_id, list(entries)).items():
            top = newest(versions)
            if top is not None:
                known[oid] = Known(top.event_time, top.status, top.total_value, {v.payload_hash for v in versions})
        wanted = [oid for oid, e in entries.items() if refetch or needs_fetch(e, known.get(oid))]
        async for oid, got in client.fetch_orders(wanted):
            if isinstance(got, Exception):
                read.unreadable.append((oid, f"{type(got).__name__}: {got}"))
                continue
            read.fetched += 1
            try:
                text = got.raw.decode("utf-8")
                version = parse_order(got.raw, tz, got.head)
            except (UnicodeDecodeError, BadRecordError) as exc:
                read.unreadable.append((oid, str(exc)))
                continue
            read.versions.append((version, text))
    return read


def _as_order_version(v: Version) -> OrderVersion:
    return OrderVersion(
        order_id=v.order_id,
        event_time=v.event_time,
        processed_at=None,
        payload_hash=v.payload_hash,
        order_date=v.order_date,
        status=v.status,
        total_value=v.total_value.quantize(_CENT),
        currency_code=v.currency_code,
    )


def _money(figures: dict[tuple[date, str], dict[str, Any]], day: date) -> dict[str, str]:
    return {cur: str(f["revenue"].quantize(_CENT)) for (d, cur), f in sorted(figures.items()) if d == day}


def _figures_json(figures: dict[tuple[date, str], dict[str, Any]], day: date) -> dict[str, dict[str, Any]]:
    return {
        cur: {k: (str(v.quantize(_CENT)) if isinstance(v, Decimal) else v) for k, v in f.items()}
        for (d, cur), f in sorted(figures.items())
        if d == day
    }


def built_revenue(
    wh: Warehouse, tenant_id: int, day_from: date, day_to: date
) -> dict[tuple[date, str], dict[str, Any]]:
    """revenue_daily's figures for a tenant's days (none before its first build)."""
    out: dict[tuple[date, str], dict[str, Any]] = {}
    if not wh.has_table("revenue_daily"):
        return out
    for d in current(wh, tenant_id=tenant_id, day_from=day_from, day_to=day_to).days:
        out[(d.order_date, d.currency_code)] = {"revenue": d.revenue}
    return out


def day_fingerprint(rows: list[OrderVersion]) -> str:
    text = ",".join(sorted(f"{r.order_id}:{r.payload_hash}" for r in rows))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tenant_effect(
    wh: Warehouse,
    orders: OrdersSettings,
    tenant: Tenant,
    day_from: date,
    day_to: date,
    read: SourceRead | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[int, str, str, str]]]:
    """A tenant's part of a plan: its days, the orders it would change, the versions it would land."""
    tid = tenant.tenant_id
    before = current_rows(wh, tid, day_from, day_to)
    fetched = read.versions if read else []
    incoming = {v.order_id for v, _ in fetched}
    landed = landed_of(wh, tid, sorted(set(before) | incoming))
    to_land: list[tuple[Version, str]] = []
    for v, text in fetched:
        if all(x.payload_hash != v.payload_hash for x in landed.get(v.order_id, [])):
            to_land.append((v, text))
    new_by_order: dict[str, list[OrderVersion]] = {}
    for v, _ in to_land:
        new_by_order.setdefault(v.order_id, []).append(_as_order_version(v))
    elsewhere = current_of(wh, tid, sorted(incoming - set(before)))  # current rows on other days
    current = {**elsewhere, **before}
    after_rows = dict(before)
    changes: list[dict[str, Any]] = []
    for oid in sorted(set(before) | incoming):
        now_row = current.get(oid)
        latest_landed = newest(landed.get(oid, []))
        candidates = [*landed.get(oid, []), *new_by_order.get(oid, []), *([now_row] if now_row else [])]
        winner = newest(candidates)
        if winner is None:
            continue
        if now_row is None or winner.payload_hash != now_row.payload_hash:
            changes.append(
                {
                    "order_id": oid,
                    "before": now_row.as_dict() if now_row else None,
                    "after": winner.as_dict(),
                    "landed_latest": latest_landed.payload_hash if latest_landed else None,
                    "change": "insert" if now_row is None else "update",
                }
            )
        if day_from <= winner.order_date <= day_to:
            after_rows[oid] = winner
        else:
            after_rows.pop(oid, None)
    figures_before = built_revenue(wh, tid, day_from, day_to)  # as reported now (built with the settings then)
    figures_after = day_revenue(after_rows.values(), orders)
    days: list[dict[str, Any]] = []
    for day in day_list(day_from, day_to):
        held = [r for r in before.values() if r.order_date == day]
        source = read.totals.get(day) if read else None
        days.append(
            {
                "tenant": tenant.tenant_name,
                "tenant_id": tid,
                "day": day.isoformat(),
                "source_orders": source[0] if source else None,
                "source_total": str(source[1]) if source else None,
                "warehouse_orders": len(held),
                "warehouse_total": str(sum((r.total_value for r in held), Decimal("0.00"))),
                "versions_to_land": sum(1 for v, _ in to_land if v.order_date == day),
                "rows_inserted": sum(
                    1 for c in changes if c["change"] == "insert" and c["after"]["order_date"] == str(day)
                ),
                "rows_updated": sum(
                    1 for c in changes if c["change"] == "update" and c["after"]["order_date"] == str(day)
                ),
                "revenue_before": _money(figures_before, day),
                "revenue_after": _money(figures_after, day),
                "figures_after": _figures_json(figures_after, day),
                "fingerprint": day_fingerprint(held),
            }
        )
    for c in changes:
        c["tenant_id"] = tid
    versions = [(tid, v.order_id, v.payload_hash, text) for v, text in to_land]
    return days, changes, versions


def totals(days: list[dict[str, Any]], changes: list[dict[str, Any]], versions: int) -> dict[str, Any]:
    return {
        "days": len(days),
        "versions_to_land": versions,
        "rows_inserted": sum(1 for c in changes if c["change"] == "insert"),
        "rows_updated": sum(1 for c in changes if c["change"] == "update"),
        "days_revised": sum(1 for d in days if d["revenue_before"] != d["revenue_after"]),
    }
