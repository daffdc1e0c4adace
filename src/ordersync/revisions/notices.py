"""Delivering revision notices from the outbox (cdp.revision_notices) to the configured webhooks.

The revenue_daily build writes one notice per revision of a closed day in the transaction that
revised it, with a stable id; this module POSTs each to every webhook named in `[revisions]
webhook_url_envs` and records, per (notice, webhook), the attempts, the next one (exponential
back-off from `backoff_seconds`, doubling, capped at MAX_BACKOFF_SECONDS), the delivery (a 2xx) or
the giving up (after `max_attempts`, with the last error). Delivery is at least once: an attempt is
recorded after its POST, so a crash in between sends the notice again, with the same id in the body
and the X-Ordersync-Notice-Id header.

A webhook is named by its environment variable: the URL is a secret, read when a round starts,
registered with the scrubber and never printed, logged or stored (errors are written without it).
A variable that is not set (or empty) is a reported skip: its notices wait, none is given up.

Rounds take turns: on PostgreSQL a session advisory lock (a round that finds it held by another
process skips, saying so); on DuckDB the file has one writing process. The warehouse is used only
between the HTTP requests, under the caller's `lock` when one is given (ordersync serve's gate),
so a slow receiver never holds up the requests of a serve.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import uvloop

from ordersync.clock import Clock
from ordersync.config import RevisionsSettings
from ordersync.errors import ConfigError, WarehouseError
from ordersync.outcomes import DeliveryState
from ordersync.revisions.notice_bodies import NOTICE_ID_HEADER, Notice, body
from ordersync.secrets import command_variables, register_secret, scrub
from ordersync.sources.http.retry import MAX_BACKOFF_SECONDS, backoff, parse_retry_after
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey, try_session_lock

log = logging.getLogger("ordersync.notices")

#: Every request: connecting, sending and reading the answer, in all.
REQUEST_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
#: Notices tried per webhook in one round (the rest wait for the next).
ROUND_LIMIT = 200

_NOTICE_COLUMNS = (
    "n.notice_id, n.tenant_id, t.tenant_name, n.order_date, n.currency_code, n.revenue_before, "
    "n.revenue_after, n.delta, n.orders_changed, n.known_before, n.known_after, n.revised_at"
)


# -- webhooks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    name: str  # the environment variable: what is stored and shown
    url: str  # the secret
    format: str

    def __repr__(self) -> str:  # never the URL, even in a traceback's locals
        return f"Webhook({self.name!r}, {self.format!r})"


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
    found: list[Webhook] = []
    skipped: dict[str, str] = {}
    for name in dict.fromkeys(settings.webhook_url_envs):
        url = (env.get(name) or "").strip()
        if not url:
            skipped[name] = f"environment variable {name} is not set; set it to the webhook's URL"
            continue
        register_secret(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            skipped[name] = f"environment variable {name} does not hold an http:// or https:// URL"
            continue
        found.append(Webhook(name, url, settings.webhook_formats.get(name, "slack")))
    return found, skipped


def _without_url(text: str, hook: Webhook) -> str:
    """`text` with the webhook's URL and its host left out (for errors that are stored and shown)."""
    parts = urllib.parse.urlsplit(hook.url)
    hidden = {hook.url, hook.url.rstrip("/"), parts.netloc, parts.path, urllib.parse.quote(hook.url, safe="")}
    if parts.hostname:
        hidden.add(parts.hostname)
    hidden = {h for h in hidden if len(h) > 1}
    return scrub(text, hidden)


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


@dataclass
class Pending:
    """A notice due to one webhook, with what was recorded of its earlier attempts."""

    notice: Notice
    attempts: int
    last_error: str | None


def due(wh: Warehouse, webhook: str, now: datetime, limit: int = ROUND_LIMIT) -> list[Pending]:
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
    return [Pending(_notice(r[:12]), int(r[12]), r[13]) for r in rows]


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
    wh: Warehouse, webhook_names: list[str], tenant_id: int | None = None, undelivered_only: bool = False
) -> list[dict[str, Any]]:
    """Every notice (newest first) with its delivery state per webhook: each configured one (never
    tried: 'waiting') and any other that has a record. `undelivered_only`: those some configured
    webhook has not received (given up included)."""
    where, params = ("WHERE n.tenant_id = ?", (tenant_id,)) if tenant_id is not None else ("", ())
    rows = wh.query(
        f"SELECT {_NOTICE_COLUMNS} FROM cdp.revision_notices n "
        f"LEFT JOIN cdp.tenants t ON t.tenant_id = n.tenant_id {where} "
        "ORDER BY n.revised_at DESC, n.notice_id",
        params,
    )
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for d in wh.query_dicts(
        "SELECT d.notice_id, d.webhook, d.attempts, d.next_attempt_at, d.delivered_at, d.given_up_at, d.last_error "
        f"FROM cdp.notice_deliveries d JOIN cdp.revision_notices n ON n.notice_id = d.notice_id {where}",
        params,
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


# -- one round -------------------------------------------------------------------------------------


@dataclass
class WebhookRound:
    webhook: str
    format: str | None
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    #: still to deliver after the round (not given up)
    waiting: int = 0
    #: why the webhook was not tried this round (its variable is not set, say)
    skipped: str | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "webhook": self.webhook,
            "format": self.format,
            "delivered": self.delivered,
            "failed": self.failed,
            "given_up": self.given_up,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "last_error": self.last_error,
        }


@dataclass
class DeliverySummary:
    webhooks: list[WebhookRound] = field(default_factory=list)
    #: another process was delivering: this round sent nothing
    busy: bool = False

    @property
    def delivered(self) -> int:
        return sum(w.delivered for w in self.webhooks)

    @property
    def ok(self) -> bool:
        """Nothing skipped, failed or given up this round."""
        return not any(w.skipped or w.failed or w.given_up for w in self.webhooks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "busy": self.busy,
            "ok": self.ok,
            "webhooks": [w.as_dict() for w in self.webhooks],
        }

    def line(self) -> str:
        """One line for a log (webhooks by variable name only)."""
        if self.busy:
            return "revision notices: another process is delivering them"
        parts = []
        for w in self.webhooks:
            if w.skipped:
                parts.append(f"{w.webhook} skipped ({w.skipped})")
            else:
                done = f"{w.delivered} delivered, {w.failed} failed, {w.given_up} given up"
                parts.append(f"{w.webhook} {done}, {w.waiting} waiting")
        return "revision notices: " + ("; ".join(parts) or "no webhook configured")


@dataclass
class Outcome:
    """What one POST came to: delivered, or the error (never holding the URL) and a server's hint."""

    ok: bool
    error: str | None = None
    retry_after: float | None = None


class NoticeSender:
    """One delivery round per deliver() call. `wh` is called for the warehouse each time it is needed
    (ordersync serve's builds close and reopen it); `lock` is held whenever it is used."""

    def __init__(
        self,
        wh: Callable[[], Warehouse],
        settings: RevisionsSettings,
        clock: Clock,
        *,
        lock: AbstractContextManager[Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._wh = wh
        self.settings = settings
        self.clock = clock
        self._lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()
        self.environ = environ

    def deliver(self, limit: int = ROUND_LIMIT) -> DeliverySummary:
        hooks, skipped = webhooks(self.settings, self.environ)
        summary = DeliverySummary()
        for name, why in skipped.items():
            summary.webhooks.append(WebhookRound(name, self.settings.webhook_formats.get(name, "slack"), skipped=why))
            log.warning("revision notices to %s skipped: %s", name, why)
        if not hooks:
            self._count_waiting(summary)
            return summary
        with self._round() as held:
            if not held:
                summary.busy = True
                return summary
            rounds = [WebhookRound(h.name, h.format) for h in hooks]
            summary.webhooks[:0] = rounds
            uvloop.run(self._send_all(hooks, rounds, limit))
        self._count_waiting(summary)
        return summary

    def _count_waiting(self, summary: DeliverySummary) -> None:
        with self._lock:
            wh = self._wh()
            for w in summary.webhooks:
                w.waiting = waiting(wh, w.webhook)

    # -- taking turns ---------------------------------------------------------------------------
    @contextmanager
    def _round(self) -> Iterator[bool]:
        """True while this round holds the delivery lock: on PostgreSQL a session advisory lock on a
        connection of its own, so the caller's connection stays free; DuckDB needs none."""
        with self._lock:
            wh = self._wh()
            conn = wh.fork() if wh.dialect == "postgres" else None
        if conn is None:
            yield True
            return
        try:
            with try_session_lock(conn, LockKey.DELIVERY) as held:
                yield held
        finally:
            with suppress(WarehouseError):
                conn.close()

    # -- sending ----------------------------------------------------------------------------------
    async def _send_all(self, hooks: list[Webhook], rounds: list[WebhookRound], limit: int) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "ordersync"}) as session:
            for hook, rnd in zip(hooks, rounds, strict=True):
                with self._lock:
                    todo = due(self._wh(), hook.name, self.clock.now(), limit)
                for pending in todo:
                    outcome = await self.post(session, hook, pending.notice)
                    self._record(hook, pending, outcome, rnd)
                    if not outcome.ok:
                        break  # the receiver is failing: the rest wait for its next round

    async def post(self, session: aiohttp.ClientSession, hook: Webhook, notice: Notice) -> Outcome:
        data = orjson.dumps(body(notice, hook.format))
        headers = {"Content-Type": "application/json", NOTICE_ID_HEADER: notice.notice_id}
        try:
            async with session.post(hook.url, data=data, headers=headers, allow_redirects=False) as resp:
                text = (await resp.content.read(400)).decode("utf-8", errors="replace")
                if 200 <= resp.status < 300:
                    return Outcome(True)
                detail = " ".join(text.split())[:200]
                error = f"HTTP {resp.status}" + (f": {detail}" if detail else "")
                if 300 <= resp.status < 400:
                    error += " (redirects are not followed: set the webhook's final URL)"
                return Outcome(False, _without_url(error, hook), parse_retry_after(resp.headers.get("Retry-After")))
        except TimeoutError:
            return Outcome(False, f"no answer within {REQUEST_TIMEOUT_SECONDS:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(False, _without_url(f"{type(exc).__name__}: {exc}", hook))
        except OSError as exc:
            return Outcome(False, _without_url(f"{type(exc).__name__}: {exc}", hook))

    def _record(self, hook: Webhook, pending: Pending, outcome: Outcome, rnd: WebhookRound) -> None:
        now = self.clock.now()
        attempts = pending.attempts + 1
        nid = pending.notice.notice_id
        if outcome.ok:
            self.save(hook, nid, attempts=attempts, next_attempt_at=None, delivered_at=now, given_up_at=None,
                      last_error=pending.last_error)  # fmt: skip
            rnd.delivered += 1
            return
        rnd.last_error = outcome.error
        if attempts >= self.settings.max_attempts:
            self.save(hook, nid, attempts=attempts, next_attempt_at=None, delivered_at=None, given_up_at=now,
                      last_error=outcome.error)  # fmt: skip
            rnd.given_up += 1
            log.error(
                "revision notice %s to %s given up after %d attempts: %s", nid, hook.name, attempts, outcome.error
            )
            return
        wait = backoff(self.settings.backoff_seconds, attempts)
        if outcome.retry_after is not None:
            wait = min(max(wait, outcome.retry_after), MAX_BACKOFF_SECONDS)
        self.save(hook, nid, attempts=attempts, next_attempt_at=now + timedelta(seconds=wait), delivered_at=None,
                  given_up_at=None, last_error=outcome.error)  # fmt: skip
        rnd.failed += 1
        log.warning(
            "revision notice %s to %s failed (attempt %d, next in %.0f s): %s",
            nid,
            hook.name,
            attempts,
            wait,
            outcome.error,
        )

    def save(self, hook: Webhook, notice_id: str, **values: Any) -> None:
        """Record one attempt (after its POST: a crash before this sends the notice again)."""
        with self._lock:
            record(self._wh(), notice_id, hook.name, **values)
