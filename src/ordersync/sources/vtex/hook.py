"""VTEX Hook: notifications recorded durably before they are answered, then fetched and landed.

VTEX wants a 200 within 5 s and retries otherwise; the notification carries no order body. So the
receiver appends each notification to a spool file and fsyncs it before answering (a process
killed right after its 200 loses nothing, and a DuckDB build holding the warehouse does not delay
the answer); a loop moves the spool into cdp.hook_inbox, fetches each order once with get-order
and lands it through the one landing path. Notifications for statuses nobody asked for are normal
and harmless: the order is fetched and its version lands once.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ordersync.aio import run_async
from ordersync.coordination.leases import Fence, LeaseKeeper
from ordersync.errors import BadRecordError
from ordersync.land.intake import Intake, Item
from ordersync.land.records import order_id_field, order_id_of, parse_order
from ordersync.outcomes import RoundStatus
from ordersync.sources.vtex import capture_log
from ordersync.sources.vtex.client import client_for
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import HOOK_SOURCE
from ordersync.text import storable
from ordersync.warehouse import Warehouse

SECRET_HEADER = "X-Ordersync-Hook-Secret"
SOURCE = HOOK_SOURCE
#: Rounds a notification is tried in; then it is quarantined with its last error (and `ordersync
#: quarantine retry` fetches its order again), never left waiting unseen.
MAX_ATTEMPTS = 20
#: The lease stream a tenant's inbox is worked under.
STREAM = "hook"
_LOCK = threading.Lock()


def is_ping(body: Any) -> bool:
    return isinstance(body, dict) and body.get("hookConfig") == "ping"


@dataclass(frozen=True)
class Notification:
    tenant_id: int
    order_id: str | None
    state: str | None
    body: str


def notification(tenant_id: int, raw: bytes) -> Notification:
    """What the inbox keeps of a notification; one it cannot read is kept too (order_id None) and
    quarantined when processed, never refused (VTEX would only send it again)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    order_id = body.get("OrderId") if isinstance(body, dict) else None
    state = body.get("State") if isinstance(body, dict) else None
    return Notification(
        tenant_id,
        _order_id(order_id),
        # NUL written out: PostgreSQL text cannot hold it, and one such row would hold up the spool
        storable(state) if isinstance(state, str) and len(state) <= 200 else None,
        storable(raw.decode("utf-8", errors="replace")),
    )


def _order_id(value: Any) -> str | None:
    """The OrderId as landing takes order ids (a string of 1-200 characters, no control character,
    no surrounding white space), or None: the notification is then quarantined as unreadable."""
    try:
        return order_id_field(value, "OrderId")
    except BadRecordError:
        return None


class Spool:
    """An append-only file of notifications, fsynced per append; drained into the inbox."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, note: Notification) -> None:
        line = orjson.dumps(note.__dict__) + b"\n"
        with _LOCK, self.path.open("ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def drain(self, into: Callable[[list[Notification]], None]) -> int:
        """Hand every spooled notification to `into` (which commits them), then empty the file. A
        crash between the two hands them over again: the inbox may hold one twice, which costs one
        more get-order and lands nothing new."""
        if not self.path.exists():
            return 0
        with _LOCK, self.path.open("r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            notes = []
            for line in fh.read().splitlines():
                try:
                    notes.append(Notification(**orjson.loads(line)))
                except (orjson.JSONDecodeError, TypeError):
                    continue  # a line cut short by a crash mid-append was never answered 200
            if notes:
                into(notes)
            fh.seek(0)
            fh.truncate()
            os.fsync(fh.fileno())
        return len(notes)


class Inbox:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def record(self, notes: list[Notification], now: datetime) -> None:
        with self.wh.transaction():
            for n in notes:
                self.wh.execute(
                    "INSERT INTO cdp.hook_inbox (tenant_id, order_id, state, body, received_at, attempts) "
                    "VALUES (?, ?, ?, ?, ?, 0)",
                    (n.tenant_id, n.order_id, n.state, n.body, now),
                )
            capture_log.notified(self.wh, STREAM, dict.fromkeys((n.tenant_id for n in notes), now))

    def pending(self, limit: int = 1000, max_attempts: int = MAX_ATTEMPTS) -> list[tuple[int, int, str | None, str]]:
        """(notification_id, tenant_id, order_id, body) not yet processed, oldest first."""
        rows = self.wh.query(
            "SELECT notification_id, tenant_id, order_id, body FROM cdp.hook_inbox "
            "WHERE processed_at IS NULL AND attempts < ? ORDER BY notification_id LIMIT ?",
            (max_attempts, limit),
        )
        return [(int(r[0]), int(r[1]), r[2], str(r[3])) for r in rows]

    # Each statement names the tenant too: it keeps the landing's transaction on the tenant's shard
    # when the warehouse is sharded by tenant (docs/scaling.md).
    def done(self, tenant_id: int, ids: list[int], now: datetime) -> None:
        for i in ids:
            self.wh.execute(
                "UPDATE cdp.hook_inbox SET processed_at = ?, attempts = attempts + 1 "
                "WHERE tenant_id = ? AND notification_id = ?",
                (now, tenant_id, i),
            )

    def failed(self, tenant_id: int, ids: list[int], error: str) -> None:
        for i in ids:
            self.wh.execute(
                "UPDATE cdp.hook_inbox SET attempts = attempts + 1, last_error = ? "
                "WHERE tenant_id = ? AND notification_id = ?",
                (error[:2000], tenant_id, i),
            )

    def given_up(self, tenant_id: int, ids: list[int], now: datetime) -> list[tuple[str | None, str, str | None]]:
        """(order_id, body, last_error) of those notifications that have had their last attempt,
        now marked processed (call inside the transaction that quarantines them)."""
        out: list[tuple[str | None, str, str | None]] = []
        for i in ids:
            row = self.wh.query_one(
                "SELECT order_id, body, last_error FROM cdp.hook_inbox "
                "WHERE tenant_id = ? AND notification_id = ? AND processed_at IS NULL AND attempts >= ?",
                (tenant_id, i, MAX_ATTEMPTS),
            )
            if row is not None:
                self.wh.execute(
                    "UPDATE cdp.hook_inbox SET processed_at = ? WHERE tenant_id = ? AND notification_id = ?",
                    (now, tenant_id, i),
                )
                out.append((row[0], str(row[1]), row[2]))
        return out

    def backlog(self) -> int:
        return int(self.wh.scalar("SELECT count(*) FROM cdp.hook_inbox WHERE processed_at IS NULL") or 0)


@dataclass
class HookRound:
    notifications: int = 0
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    failed: int = 0
    #: get-order calls to the stores (retries included), and how many were answered 429
    requests: int = 0
    throttled: int = 0
    error: str | None = None

    def add(self, other: HookRound) -> None:
        for name in ("notifications", "fetched", "landed", "quarantined", "failed", "requests", "throttled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def _fetch(client: Any, order_ids: list[str]) -> dict[str, bytes | Exception]:
    out: dict[str, bytes | Exception] = {}
    async with client:
        async for order_id, body in client.get_orders(order_ids):
            out[order_id] = body
    return out


def process(wh: Warehouse, clock: Any, settings: Any, keeper: LeaseKeeper, limit: int = 1000) -> HookRound:
    """Fetch and land the orders of pending notifications, each order once per round. Each tenant's
    inbox is worked under its "hook" lease, so several serve processes on one PostgreSQL share the
    inboxes without fetching the same notifications twice; its landings are fenced by that lease."""
    pending = Inbox(wh).pending(limit)
    result = HookRound()
    by_tenant: dict[int, list[tuple[int, str | None, str]]] = {}
    for nid, tid, oid, body in pending:
        by_tenant.setdefault(tid, []).append((nid, oid, body))
    for tid, notes in by_tenant.items():
        lease = keeper.acquire(tid, STREAM)
        if lease is None:
            continue  # another process is on this tenant's inbox
        began, mine = clock.now(), HookRound(notifications=len(notes))
        try:
            _tenant_round(wh, clock, settings, TenantStore(wh).by_id(tid), notes, Fence(lease, wh), mine)
        finally:
            keeper.release(lease)
            result.add(mine)
            capture_log.record(wh, _recorded(tid, began, mine))
    return result


def _recorded(tenant_id: int, began: datetime, r: HookRound) -> capture_log.CaptureRound:
    status = RoundStatus.PARTIAL if r.failed else RoundStatus.POLLED
    if r.error is not None:
        status = RoundStatus.FAILED
    return capture_log.CaptureRound(
        tenant_id,
        STREAM,
        began,
        status,
        r.error,
        events=r.notifications,
        fetched=r.fetched,
        landed=r.landed,
        quarantined=r.quarantined,
        requests=r.requests,
        throttled=r.throttled,
    )


def _tenant_round(
    wh: Warehouse,
    clock: Any,
    settings: Any,
    tenant: Tenant,
    notes: list[tuple[int, str | None, str]],
    fence: Fence,
    result: HookRound,
) -> None:
    inbox = Inbox(wh)
    intake = Intake(wh, clock)
    tid = tenant.tenant_id
    unreadable = [(nid, body) for nid, oid, body in notes if oid is None]
    wanted: dict[str, list[int]] = {}
    for nid, oid, _ in notes:
        if oid is not None:
            wanted.setdefault(oid, []).append(nid)
    with fence.transaction(wh):
        for _nid, body in unreadable:
            intake.lander.quarantine(tid, body, "the hook notification has no readable OrderId", SOURCE, None)
        inbox.done(tid, [nid for nid, _ in unreadable], clock.now())
    result.quarantined += len(unreadable)
    if not wanted:
        return
    client = None
    try:
        client = client_for(tenant, settings)
        bodies = run_async(_fetch(client, list(wanted)))
    except Exception as exc:  # the store or the credentials: every notification waits for the next round
        result.error = f"{type(exc).__name__}: {exc}"
        inbox.failed(tid, [n for ids in wanted.values() for n in ids], result.error)
        result.failed += sum(len(ids) for ids in wanted.values())
        _give_up(wh, clock, intake, inbox, tid, [n for ids in wanted.values() for n in ids], fence, result)
        return
    finally:
        if client is not None:
            result.requests += client.stats.get_calls + client.stats.retries
            result.throttled += client.stats.throttled
    items = [Item(b) for b in bodies.values() if isinstance(b, bytes)]
    ok = [n for oid, ids in wanted.items() if isinstance(bodies.get(oid), bytes) for n in ids]

    def mark_done(_: object) -> None:  # in the landing's transaction: landed and done commit together
        inbox.done(tid, ok, clock.now())

    batch = intake.land_items(
        tid,
        tenant.tz,
        items,
        SOURCE,
        None,
        parse=lambda item, tz: parse_order(item.raw, tz),
        order_id_of=order_id_of,
        fence=fence,
        within=mark_done,
    )
    bad = {oid: b for oid, b in bodies.items() if not isinstance(b, bytes)}
    for oid, error in bad.items():
        inbox.failed(tid, wanted[oid], f"{type(error).__name__}: {error}")
    result.fetched += len(items)
    result.landed += batch.landed
    result.quarantined += batch.quarantined
    result.failed += sum(len(wanted[oid]) for oid in bad)
    _give_up(wh, clock, intake, inbox, tid, [n for oid in bad for n in wanted[oid]], fence, result)


def _give_up(
    wh: Warehouse, clock: Any, intake: Any, inbox: Inbox, tid: int, ids: list[int], fence: Fence, result: HookRound
) -> None:
    """Quarantine the notifications among `ids` that have had their last attempt."""
    if not ids:
        return
    with fence.transaction(wh):
        for order_id, body, error in inbox.given_up(tid, ids, clock.now()):
            reason = f"gave up after {MAX_ATTEMPTS} attempts to fetch the order; the last: {error}"
            intake.lander.quarantine(tid, body, reason, SOURCE, None, order_id)
            result.quarantined += 1
