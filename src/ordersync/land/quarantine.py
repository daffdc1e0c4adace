"""The quarantine: records that could not land, listed and retried.

A retry parses each unresolved record again; a record that came from a store (source 'vtex-oms')
is fetched again with get-order first, since its stored body may be a cut-off response. Land sits
above the sources, so the caller hands in how to read a pushed record and how to reach a store. What now
parses lands through the normal, checked landing path and its row is marked resolved; rows are
never deleted, so the quarantine stays the audit trail of everything that was ever refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ordersync.aio import run_async
from ordersync.clock import Clock
from ordersync.config import SyncSettings
from ordersync.errors import BadRecordError, NotFoundError, SourceError
from ordersync.land.lander import Lander, decode_raw
from ordersync.land.records import Version, parse_order
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import PUSHED_SOURCES, STORE_SOURCES
from ordersync.text import storable
from ordersync.warehouse import Warehouse


class OrderFetcher(Protocol):
    """What a retry asks a store for: one order's get-order body (sources.vtex.oms.VtexClient)."""

    async def get_order(self, order_id: str) -> bytes: ...


#: Opens a tenant's store client (sources.vtex.client.client_for).
OpenClient = Callable[[Tenant, SyncSettings], AbstractAsyncContextManager[OrderFetcher]]
#: Parses a record that was pushed or ingested (sources.push.events.parse_item).
ParsePushed = Callable[[bytes, ZoneInfo], Version]

_MAX_ERROR = 2000

_LIST_COLUMNS = (
    "q.quarantine_id, q.tenant_id, t.tenant_name, q.source, q.run_id, q.order_id, q.reason, "
    "q.quarantined_at, coalesce(q.retries, 0), q.last_error, q.resolved_at, q.resolved_run_id, "
    "coalesce(q.raw_encoding, 'utf-8')"
)
_LIST_KEYS = (
    "quarantine_id",
    "tenant_id",
    "tenant",
    "source",
    "run_id",
    "order_id",
    "reason",
    "quarantined_at",
    "retries",
    "last_error",
    "resolved_at",
    "resolved_run_id",
    "raw_encoding",
)


def _where(tenant_id: int | None, include_resolved: bool, ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if tenant_id is not None:
        clauses.append("q.tenant_id = ?")
        params.append(tenant_id)
    if not include_resolved:
        clauses.append("q.resolved_at IS NULL")
    if ids is not None:
        clauses.append("q.quarantine_id IN (SELECT unnest(CAST(? AS BIGINT[])))")
        params.append(list(ids))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def list_quarantine(
    wh: Warehouse,
    tenant_id: int | None,
    include_resolved: bool,
    *,
    ids: Sequence[int] | None = None,
    after: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Quarantined records, oldest first (unresolved only unless `include_resolved`; those of `ids`
    when given; at most `limit` of those after the id `after`), without their raw bytes; dates as
    ISO-8601 strings."""
    where, params = _where(tenant_id, include_resolved, ids)
    if after is not None:
        where += (" AND " if where else " WHERE ") + "q.quarantine_id > ?"
        params.append(after)
    sql = (
        f"SELECT {_LIST_COLUMNS} FROM cdp.quarantine q JOIN cdp.tenants t ON t.tenant_id = q.tenant_id"
        f"{where} ORDER BY q.quarantine_id"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = wh.query(sql, params)
    out: list[dict[str, Any]] = []
    for row in rows:
        item = dict(zip(_LIST_KEYS, row, strict=True))
        for key in ("quarantined_at", "resolved_at"):
            if isinstance(item[key], datetime):
                item[key] = item[key].isoformat()
        item["resolved"] = item["resolved_at"] is not None
        out.append(item)
    return out


def unresolved_counts(wh: Warehouse) -> dict[int, int]:
    """Per tenant, the records waiting in the quarantine (not yet resolved)."""
    rows = wh.query("SELECT tenant_id, count(*) FROM cdp.quarantine WHERE resolved_at IS NULL GROUP BY 1")
    return {int(tid): int(n) for tid, n in rows}


def quarantined_raw(wh: Warehouse, quarantine_id: int) -> bytes:
    """The record's bytes exactly as they were received."""
    row = wh.query_one("SELECT raw, raw_encoding FROM cdp.quarantine WHERE quarantine_id = ?", (quarantine_id,))
    if row is None:
        raise NotFoundError(f"no quarantined record with id {quarantine_id}; see ordersync quarantine list")
    return decode_raw(row[0], row[1])


@dataclass(frozen=True)
class RetryOutcome:
    quarantine_id: int
    tenant: str
    source: str
    order_id: str | None
    #: "resolved" (it parses now and its version is in cdp.orders_landing) or "still_bad"
    status: str
    error: str | None = None


@dataclass
class RetryResult:
    run_id: str
    retried: int = 0
    resolved: int = 0
    still_bad: int = 0
    #: versions new to cdp.orders_landing (a resolved record whose version had landed since adds none)
    landed: int = 0
    outcomes: list[RetryOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    quarantine_id: int
    tenant_id: int
    source: str
    order_id: str | None
    raw: str
    raw_encoding: str | None
    #: the body fetched again from the store, or why that failed
    refetched: bytes | None = None
    fetch_error: str | None = None

    @property
    def from_store(self) -> bool:
        return self.source in STORE_SOURCES and bool(self.order_id)


def retry_quarantine(
    wh: Warehouse,
    clock: Clock,
    sync: SyncSettings,
    *,
    parse_pushed: ParsePushed,
    open_client: OpenClient,
    tenant_id: int | None = None,
    ids: Sequence[int] | None = None,
) -> RetryResult:
    """Retry the unresolved records (of one tenant, or the given ids): land what parses now, mark it
    resolved under a new run id, and count the attempt with its error on the rest.

    Raises NotFoundError when an id names no quarantined record (of that tenant), before anything is
    written; ConfigError when a store's credentials are not in the environment.
    """
    if ids is not None:
        _check_ids(wh, tenant_id, ids)
    where, params = _where(tenant_id, False, ids)
    pending = [
        _Pending(*row)
        for row in wh.query(
            "SELECT q.quarantine_id, q.tenant_id, q.source, q.order_id, q.raw, q.raw_encoding "
            f"FROM cdp.quarantine q{where} ORDER BY q.quarantine_id",
            params,
        )
    ]
    store = TenantStore(wh)
    tenants = {tid: store.by_id(tid) for tid in sorted({p.tenant_id for p in pending})}
    to_fetch = [p for p in pending if p.from_store]
    if to_fetch:
        run_async(_refetch(to_fetch, tenants, sync, open_client))
    result = RetryResult(run_id=uuid.uuid4().hex)
    lander = Lander(wh, clock)
    now = clock.now()
    with wh.transaction():
        good: dict[tuple[int, str], list[Version]] = defaultdict(list)
        for p in pending:
            tenant = tenants[p.tenant_id]
            result.retried += 1
            try:
                parse = parse_pushed if p.source in PUSHED_SOURCES else parse_order
                good[(p.tenant_id, p.source)].append(parse(_raw_of(p), tenant.tz))
            except BadRecordError as exc:
                error = storable(str(exc)[:_MAX_ERROR])
                wh.execute(
                    "UPDATE cdp.quarantine SET retries = coalesce(retries, 0) + 1, last_error = ? "
                    "WHERE quarantine_id = ? AND resolved_at IS NULL",
                    (error, p.quarantine_id),
                )
                result.still_bad += 1
                result.outcomes.append(
                    RetryOutcome(p.quarantine_id, tenant.tenant_name, p.source, p.order_id, "still_bad", error)
                )
                continue
            wh.execute(
                "UPDATE cdp.quarantine SET retries = coalesce(retries, 0) + 1, resolved_at = ?, resolved_run_id = ? "
                "WHERE quarantine_id = ? AND resolved_at IS NULL",  # a retry running beside this one may have won
                (now, result.run_id, p.quarantine_id),
            )
            result.resolved += 1
            result.outcomes.append(RetryOutcome(p.quarantine_id, tenant.tenant_name, p.source, p.order_id, "resolved"))
        for (tid, source), versions in good.items():
            result.landed += lander.land(tid, versions, source, result.run_id)
    return result


def _raw_of(p: _Pending) -> bytes:
    if p.fetch_error is not None:
        raise BadRecordError(p.fetch_error)
    if p.refetched is not None:
        return p.refetched
    return decode_raw(p.raw, p.raw_encoding)


def _check_ids(wh: Warehouse, tenant_id: int | None, ids: Sequence[int]) -> None:
    where, params = _where(tenant_id, True, ids)
    found = {int(r[0]) for r in wh.query(f"SELECT q.quarantine_id FROM cdp.quarantine q{where}", params)}
    missing = sorted(set(ids) - found)
    if missing:
        of = "" if tenant_id is None else " of this tenant"
        raise NotFoundError(
            f"no quarantined record{of} with id {', '.join(map(str, missing))}; see ordersync quarantine list"
        )


async def _refetch(
    pending: list[_Pending], tenants: dict[int, Tenant], sync: SyncSettings, open_client: OpenClient
) -> None:
    """Fetch each record's order again from its tenant's store; the error, per record, when that fails."""
    by_tenant: dict[int, list[_Pending]] = defaultdict(list)
    for p in pending:
        by_tenant[p.tenant_id].append(p)

    async def one(client: OrderFetcher, p: _Pending) -> None:
        try:
            p.refetched = await client.get_order(p.order_id or "")
        except (NotFoundError, SourceError) as exc:
            p.fetch_error = f"get-order failed again: {exc}"

    async def tenant_batch(tid: int, items: list[_Pending]) -> None:
        # Credentials are read here; a tenant without them fails the retry before anything is written.
        async with open_client(tenants[tid], sync) as client:
            await asyncio.gather(*(one(client, p) for p in items))

    await asyncio.gather(*(tenant_batch(tid, items) for tid, items in by_tenant.items()))
