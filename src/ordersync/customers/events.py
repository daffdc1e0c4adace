"""Customer change events: the outbox (cdp.customer_events, cdp.customer_event_deliveries) and its
delivery to the webhooks named in `[customers] webhook_url_envs`.

An event is written in the transaction of the change it reports, with an id derived from what it
says (tenant, customer, kind, from, to, when), so a step that is retried writes none twice. Events
are delivered in batches of at most BATCH_SIZE, one JSON request a batch, each event carrying its
id; the batch's id is in the X-Ordersync-Batch-Id header. A tenant's first computation writes its
events `initial`: delivered only with `[customers] deliver_initial`. Delivery itself (back-off,
give-up, at-least-once, secret URLs) is notify/webhooks.py's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import orjson

from ordersync.clock import Clock
from ordersync.config import CustomersSettings
from ordersync.notify.webhooks import Pending, Retries, Webhook, WebhookSender, webhooks_from
from ordersync.paging import unpack
from ordersync.secrets import command_variables
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey

#: Events in one request.
BATCH_SIZE = 500
BATCH_ID_HEADER = "X-Ordersync-Batch-Id"


class EventKind(StrEnum):
    SEGMENT_CHANGED = "segment_changed"
    STAGE_CHANGED = "stage_changed"
    CUSTOMER_MERGED = "customer_merged"
    CUSTOMER_SPLIT = "customer_split"


@dataclass(frozen=True)
class Event:
    tenant_id: int
    customer_key: str
    kind: EventKind
    from_value: str | None
    to_value: str | None
    #: the scoring date the change was found for (a merge's or split's: the step's)
    on: date
    initial: bool = False

    @property
    def event_id(self) -> str:
        """Stable: the same change, found again for the same date, has the same id."""
        text = "\x1f".join(
            [
                str(self.tenant_id),
                self.customer_key,
                self.kind.value,
                self.from_value or "",
                self.to_value or "",
                self.on.isoformat(),
            ]
        )
        return "cev_" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def public(self, tenant: str | None = None) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "tenant": tenant,
            "customer_key": self.customer_key,
            "kind": self.kind.value,
            "from": self.from_value,
            "to": self.to_value,
            "on": self.on.isoformat(),
            "initial": self.initial,
        }


def write(wh: Warehouse, events: Sequence[Event], run_id: str, now: datetime) -> int:
    """Write events (inside the caller's transaction) in batches of BATCH_SIZE; those already
    written (same id) are left as they are. The number of events new to the outbox."""
    if not events:
        return 0
    before = _count(wh, events[0].tenant_id)
    for start in range(0, len(events), BATCH_SIZE):
        chunk = events[start : start + BATCH_SIZE]
        batch_id = f"{run_id}-{start // BATCH_SIZE}"
        wh.execute(
            "INSERT INTO cdp.customer_events (tenant_id, event_id, customer_key, kind, from_value, to_value, "
            "occurred_on, initial, batch_id, created_at) "
            "SELECT unnest(CAST(? AS INTEGER[])), unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])), "
            "unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])), "
            "unnest(CAST(? AS DATE[])), unnest(CAST(? AS BOOLEAN[])), ?, ? "
            "ON CONFLICT (tenant_id, event_id) DO NOTHING",
            (
                [e.tenant_id for e in chunk],
                [e.event_id for e in chunk],
                [e.customer_key for e in chunk],
                [e.kind.value for e in chunk],
                [e.from_value for e in chunk],
                [e.to_value for e in chunk],
                [e.on for e in chunk],
                [e.initial for e in chunk],
                batch_id,
                now,
            ),
        )
    return _count(wh, events[0].tenant_id) - before


def _count(wh: Warehouse, tenant_id: int) -> int:
    return int(wh.scalar("SELECT count(*) FROM cdp.customer_events WHERE tenant_id = ?", (tenant_id,)) or 0)


_EVENT_COLUMNS = "e.tenant_id, e.customer_key, e.kind, e.from_value, e.to_value, e.occurred_on, e.initial"


def _event(row: Sequence[Any]) -> Event:
    return Event(int(row[0]), str(row[1]), EventKind(row[2]), row[3], row[4], row[5], bool(row[6]))


def events(
    wh: Warehouse,
    tenant_id: int | None = None,
    *,
    since: date | None = None,
    customer_key: str | None = None,
    undelivered_to: Sequence[str] | None = None,
    limit: int | None = None,
    after: tuple[Any, ...] | None = None,
) -> list[tuple[Event, str]]:
    """Events, oldest first (by day, then id), with their tenant's name; `undelivered_to`: only those
    some of these webhooks have not had (not given up either); `after`: those after the event keyed so
    (an `event_key`)."""
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    if tenant_id is not None:
        clauses.append("e.tenant_id = ?")
        params.append(tenant_id)
    if since is not None:
        clauses.append("e.occurred_on >= ?")
        params.append(since)
    if customer_key is not None:
        clauses.append("e.customer_key = ?")
        params.append(customer_key)
    if undelivered_to is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM (SELECT unnest(CAST(? AS TEXT[])) AS webhook) w "
            "LEFT JOIN cdp.customer_event_deliveries d ON d.tenant_id = e.tenant_id AND d.batch_id = e.batch_id "
            "AND d.webhook = w.webhook WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL)"
        )
        params.append(list(undelivered_to))
    if after is not None:
        on, event_id = unpack(after, date.fromisoformat, str)
        clauses.append("(e.occurred_on > ? OR (e.occurred_on = ? AND e.event_id > ?))")
        params += [on, on, event_id]
    sql = (
        f"SELECT {_EVENT_COLUMNS}, t.tenant_name FROM cdp.customer_events e "
        "JOIN cdp.tenants t ON t.tenant_id = e.tenant_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY e.occurred_on, e.event_id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [(_event(r), str(r[7])) for r in wh.query(sql, params)]


def event_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """An event's place in the list (oldest first), from `Event.public`: the key its cursor holds."""
    return (item["on"], item["id"])


def moves(wh: Warehouse, tenant_id: int, since: date | None) -> list[dict[str, Any]]:
    """How many segment and stage changes went from each value to each other one on or after
    `since`, counted in SQL; a tenant's first computation (`initial`) is no move."""
    clauses, params = (
        ["tenant_id = ?", "NOT initial", "kind IN (?, ?)"],
        [
            tenant_id,
            EventKind.SEGMENT_CHANGED.value,
            EventKind.STAGE_CHANGED.value,
        ],
    )
    if since is not None:
        clauses.append("occurred_on >= ?")
        params.append(since)
    rows = wh.query(
        f"SELECT kind, from_value, to_value, count(*) FROM cdp.customer_events WHERE {' AND '.join(clauses)} "
        "GROUP BY kind, from_value, to_value",
        params,
    )
    kinds = {EventKind.SEGMENT_CHANGED.value: "segment", EventKind.STAGE_CHANGED.value: "stage"}
    return [{"kind": kinds[str(k)], "from": f, "to": t, "moves": int(n)} for k, f, t, n in rows]


# -- the outbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    tenant_id: int
    tenant: str
    batch_id: str
    events: list[Event]


class EventOutbox:
    """Batches of cdp.customer_events and their cdp.customer_event_deliveries, as notify/webhooks.py
    reads and records them. The item id is `tenant_id:batch_id`."""

    def __init__(self, deliver_initial: bool) -> None:
        self.deliver_initial = deliver_initial

    def _skip_initial(self) -> str:
        return "" if self.deliver_initial else " AND NOT b.initial"

    def due(self, wh: Warehouse, webhook: str, now: datetime, limit: int) -> list[Pending[Batch]]:
        rows = wh.query(
            "WITH b AS (SELECT tenant_id, batch_id, min(created_at) AS created_at, bool_or(initial) AS initial "
            "FROM cdp.customer_events GROUP BY tenant_id, batch_id) "
            "SELECT b.tenant_id, b.batch_id, coalesce(d.attempts, 0), d.last_error FROM b "
            "LEFT JOIN cdp.customer_event_deliveries d ON d.tenant_id = b.tenant_id AND d.batch_id = b.batch_id "
            "AND d.webhook = ? "
            "WHERE (d.batch_id IS NULL OR (d.delivered_at IS NULL AND d.given_up_at IS NULL "
            f"AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?))){self._skip_initial()} "
            "ORDER BY b.created_at, b.tenant_id, b.batch_id LIMIT ?",
            (webhook, now, limit),
        )
        found = []
        for tenant_id, batch_id, attempts, last_error in rows:
            listed = wh.query(
                f"SELECT {_EVENT_COLUMNS}, t.tenant_name FROM cdp.customer_events e "
                "JOIN cdp.tenants t ON t.tenant_id = e.tenant_id "
                "WHERE e.tenant_id = ? AND e.batch_id = ? ORDER BY e.occurred_on, e.event_id",
                (tenant_id, batch_id),
            )
            if not listed:
                continue  # forgotten since: nothing left to send
            batch = Batch(int(tenant_id), str(listed[0][7]), str(batch_id), [_event(r) for r in listed])
            found.append(Pending(f"{tenant_id}:{batch_id}", batch, int(attempts), last_error))
        return found

    def waiting(self, wh: Warehouse, webhook: str) -> int:
        return int(
            wh.scalar(
                "WITH b AS (SELECT tenant_id, batch_id, bool_or(initial) AS initial FROM cdp.customer_events "
                "GROUP BY tenant_id, batch_id) SELECT count(*) FROM b "
                "LEFT JOIN cdp.customer_event_deliveries d ON d.tenant_id = b.tenant_id AND d.batch_id = b.batch_id "
                f"AND d.webhook = ? WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL{self._skip_initial()}",
                (webhook,),
            )
            or 0
        )

    def record(self, wh: Warehouse, item_id: str, webhook: str, **values: Any) -> None:
        tenant, _, batch_id = item_id.partition(":")
        wh.execute(
            "INSERT INTO cdp.customer_event_deliveries (tenant_id, batch_id, webhook, attempts, next_attempt_at, "
            "delivered_at, given_up_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant_id, batch_id, webhook) DO UPDATE SET attempts = excluded.attempts, "
            "next_attempt_at = excluded.next_attempt_at, delivered_at = excluded.delivered_at, "
            "given_up_at = excluded.given_up_at, last_error = excluded.last_error",
            (
                int(tenant),
                batch_id,
                webhook,
                values["attempts"],
                values["next_attempt_at"],
                values["delivered_at"],
                values["given_up_at"],
                values["last_error"],
            ),
        )


def render(batch: Batch, fmt: str) -> tuple[bytes, dict[str, str]]:
    """A batch's JSON body (keys only: no raw identifier ever leaves), and its id's header."""
    body = {"batch_id": batch.batch_id, "events": [e.public(batch.tenant) for e in batch.events]}
    return orjson.dumps(body), {BATCH_ID_HEADER: batch.batch_id}


def webhooks(
    settings: CustomersSettings, environ: Mapping[str, str] | None = None
) -> tuple[list[Webhook], dict[str, str]]:
    env = command_variables() if environ is None else environ
    return webhooks_from(settings.webhook_url_envs, {}, "json", env)


class EventSender(WebhookSender[Batch]):
    """One delivery round of customer events per deliver() call (notify/webhooks.py)."""

    def __init__(
        self,
        wh: Callable[[], Warehouse],
        settings: CustomersSettings,
        clock: Clock,
        *,
        lock: AbstractContextManager[Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            wh,
            EventOutbox(settings.deliver_initial),
            render,
            lambda: webhooks(settings, environ),
            Retries(settings.max_attempts, settings.backoff_seconds),
            clock,
            lock_key=LockKey.CUSTOMER_EVENTS,
            what="customer event batch",
            formats={},
            default_format="json",
            lock=lock,
        )
