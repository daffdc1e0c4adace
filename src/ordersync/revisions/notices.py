"""Revision notices: the outbox (cdp.revision_notices, cdp.notice_deliveries) and its delivery to
the webhooks named in `[revisions] webhook_url_envs`.

The revenue_daily build writes one notice per revision of a closed day in the transaction that
revised it, with a stable id (in the body and the X-Ordersync-Notice-Id header). Delivery, with its
back-off, give-up, at-least-once and secret URLs, is notify/webhooks.py's; this module gives it the
outbox, the body renderer and the webhooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ordersync.clock import Clock
from ordersync.config import RevisionsSettings
from ordersync.errors import ConfigError
from ordersync.notify.webhooks import ROUND_LIMIT, Pending, Retries, Webhook, WebhookSender, webhooks_from
from ordersync.outcomes import DeliveryState
from ordersync.paging import instant, unpack
from ordersync.revisions.notice_bodies import NOTICE_ID_HEADER, Notice, body
from ordersync.secrets import command_variables
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey

log = logging.getLogger("ordersync.notices")

#: A webhook's format unless `[revisions] webhook_formats` names another.
DEFAULT_FORMAT = "slack"

_NOTICE_COLUMNS = (
    "n.notice_id, n.tenant_id, t.tenant_name, n.order_date, n.currency_code, n.revenue_before, "
    "n.revenue_after, n.delta, n.orders_changed, n.known_before, n.known_after, n.revised_at"
)


def webhooks(
    settings: RevisionsSettings, environ: Mapping[str, str] | None = None
) -> tuple[list[Webhook], dict[str, str]]:
    """The webhooks to deliver to, and those skipped ({variable: why}: not set, empty, not http(s)).

    Raises ConfigError for a format given to a variable that webhook_url_envs does not name (a typo
    would otherwise send Slack messages to a JSON receiver)."""
    env = command_variables() if environ is None else environ
    stray = sorted(set(settings.webhook_formats) - set(settings.webhook_url_envs))
    if stray:
        raise ConfigError(
            f"[revisions] webhook_formats names {', '.join(stray)}, which webhook_url_envs does not list; "
            "add the variable to webhook_url_envs or remove its format"
        )
    return webhooks_from(settings.webhook_url_envs, settings.webhook_formats, DEFAULT_FORMAT, env)


def render(notice: Notice, fmt: str) -> tuple[bytes, dict[str, str]]:
    """A notice's body for a webhook of format `fmt`, and its stable id's header."""
    return orjson.dumps(body(notice, fmt)), {NOTICE_ID_HEADER: notice.notice_id}


# -- the outbox ------------------------------------------------------------------------------------


def _notice(row: tuple[Any, ...]) -> Notice:
    return Notice(
        notice_id=row[0],
        tenant_id=int(row[1]),
        tenant=row[2] if row[2] is not None else f"tenant {row[1]}",
        order_date=row[3],
        currency_code=row[4],
        revenue_before=Decimal(row[5]),
        revenue_after=Decimal(row[6]),
        delta=Decimal(row[7]),
        orders_changed=int(row[8]),
        known_before=row[9],
        known_after=row[10],
        revised_at=row[11],
    )


def due(wh: Warehouse, webhook: str, now: datetime, limit: int = ROUND_LIMIT) -> list[Pending[Notice]]:
    """The notices to send to `webhook` now: never tried, or failed and due again; oldest first."""
    rows = wh.query(
        f"SELECT {_NOTICE_COLUMNS}, coalesce(d.attempts, 0), d.last_error "
        "FROM cdp.revision_notices n "
        "LEFT JOIN cdp.tenants t ON t.tenant_id = n.tenant_id "
        "LEFT JOIN cdp.notice_deliveries d ON d.notice_id = n.notice_id AND d.webhook = ? "
        "WHERE d.notice_id IS NULL OR (d.delivered_at IS NULL AND d.given_up_at IS NULL "
        "AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?)) "
        "ORDER BY n.revised_at, n.notice_id LIMIT ?",
        (webhook, now, limit),
    )
    return [Pending(str(r[0]), _notice(r[:12]), int(r[12]), r[13]) for r in rows]


def waiting(wh: Warehouse, webhook: str) -> int:
    """Notices not yet delivered to `webhook` and not given up."""
    return int(
        wh.scalar(
            "SELECT count(*) FROM cdp.revision_notices n "
            "LEFT JOIN cdp.notice_deliveries d ON d.notice_id = n.notice_id AND d.webhook = ? "
            "WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL",
            (webhook,),
        )
        or 0
    )


def record(
    wh: Warehouse,
    notice_id: str,
    webhook: str,
    *,
    attempts: int,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
    given_up_at: datetime | None,
    last_error: str | None,
) -> None:
    wh.execute(
        "INSERT INTO cdp.notice_deliveries (notice_id, webhook, attempts, next_attempt_at, delivered_at, "
        "given_up_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (notice_id, webhook) DO UPDATE SET attempts = excluded.attempts, "
        "next_attempt_at = excluded.next_attempt_at, delivered_at = excluded.delivered_at, "
        "given_up_at = excluded.given_up_at, last_error = excluded.last_error",
        (notice_id, webhook, attempts, next_attempt_at, delivered_at, given_up_at, last_error),
    )


def list_notices(
    wh: Warehouse,
    webhook_names: list[str],
    tenant_id: int | None = None,
    undelivered_only: bool = False,
    *,
    after: tuple[Any, ...] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Every notice (newest first, ties by id) with its delivery state per webhook: each configured
    one (never tried: 'waiting') and any other that has a record. `undelivered_only`: those some
    configured webhook has not received (given up included). A page: at most `limit` notices after the
    one keyed `after` (a `notice_key`); the filter applies after it, so page without it."""
    clauses, params = list[str](), list[Any]()
    if tenant_id is not None:
        clauses.append("n.tenant_id = ?")
        params.append(tenant_id)
    if after is not None:
        revised, notice_id = unpack(after, instant, str)
        clauses.append("(n.revised_at < ? OR (n.revised_at = ? AND n.notice_id > ?))")
        params += [revised, revised, notice_id]
    sql = (
        f"SELECT {_NOTICE_COLUMNS} FROM cdp.revision_notices n LEFT JOIN cdp.tenants t ON t.tenant_id = n.tenant_id"
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + " ORDER BY n.revised_at DESC, n.notice_id"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = wh.query(sql, params)
    records: dict[str, dict[str, dict[str, Any]]] = {}
    if rows:  # the deliveries of these notices only
        for d in wh.query_dicts(
            "SELECT notice_id, webhook, attempts, next_attempt_at, delivered_at, given_up_at, last_error "
            "FROM cdp.notice_deliveries WHERE notice_id IN (SELECT unnest(CAST(? AS TEXT[])))",
            ([str(r[0]) for r in rows],),
        ):
            records.setdefault(d["notice_id"], {})[d["webhook"]] = d
    out: list[dict[str, Any]] = []
    for row in rows:
        notice = _notice(row)
        mine = records.get(notice.notice_id, {})
        names = list(dict.fromkeys([*webhook_names, *sorted(mine)]))
        deliveries = [_delivery(name, mine.get(name)) for name in names]
        configured = [d for d in deliveries if d["webhook"] in webhook_names]
        if undelivered_only and configured and all(d["state"] == DeliveryState.DELIVERED for d in configured):
            continue
        out.append({**notice.public(), "deliveries": deliveries})
    return out


def notice_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """A `list_notices` item's place in the list (newest first): the key its keyset cursor holds."""
    return (item["revised_at"], item["notice_id"])


_WHEN = ("next_attempt_at", "delivered_at", "given_up_at")


def _delivery(webhook: str, rec: dict[str, Any] | None) -> dict[str, Any]:
    if rec is None:
        return {"webhook": webhook, "state": DeliveryState.WAITING, "attempts": 0, "next_attempt_at": None,
                "delivered_at": None, "given_up_at": None, "last_error": None}  # fmt: skip
    state = (
        DeliveryState.DELIVERED
        if rec["delivered_at"]
        else DeliveryState.GIVEN_UP
        if rec["given_up_at"]
        else DeliveryState.RETRYING
    )
    return {
        "webhook": webhook,
        "state": state,
        "attempts": int(rec["attempts"]),
        **{k: None if rec[k] is None else rec[k].isoformat() for k in _WHEN},
        "last_error": rec["last_error"],
    }


# -- delivery --------------------------------------------------------------------------------------


class NoticeOutbox:
    """cdp.revision_notices and cdp.notice_deliveries, as notify/webhooks.py reads and records them."""

    def due(self, wh: Warehouse, webhook: str, now: datetime, limit: int) -> list[Pending[Notice]]:
        return due(wh, webhook, now, limit)

    def waiting(self, wh: Warehouse, webhook: str) -> int:
        return waiting(wh, webhook)

    def record(self, wh: Warehouse, item_id: str, webhook: str, **values: Any) -> None:
        record(wh, item_id, webhook, **values)


class NoticeSender(WebhookSender[Notice]):
    """One delivery round of revision notices per deliver() call (notify/webhooks.py)."""

    def __init__(
        self,
        wh: Callable[[], Warehouse],
        settings: RevisionsSettings,
        clock: Clock,
        *,
        lock: AbstractContextManager[Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            wh,
            NoticeOutbox(),
            render,
            lambda: webhooks(settings, environ),
            Retries(settings.max_attempts, settings.backoff_seconds),
            clock,
            lock_key=LockKey.DELIVERY,
            what="revision notice",
            formats=settings.webhook_formats,
            default_format=DEFAULT_FORMAT,
            lock=lock,
        )
        self.settings = settings
