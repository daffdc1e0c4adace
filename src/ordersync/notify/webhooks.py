"""Delivering the items of an outbox table to webhooks, for any kind of item (revision notices
today, customer events next).

The caller gives the outbox (which items are due to a webhook, how many wait, where an attempt is
recorded), the body renderer and the webhooks; this module POSTs each due item to every webhook and
records, per (item, webhook), the attempts, the next one (exponential back-off from
`backoff_seconds`, doubling, capped at MAX_BACKOFF_SECONDS; a longer Retry-After wins), the
delivery (a 2xx) or the giving up (after `max_attempts`, with the last error). Delivery is at least
once: an attempt is recorded after its POST, so a crash in between sends the item again, with the
same stable id.

A webhook is named by its environment variable: the URL is a secret, read when a round starts,
registered with the scrubber and never printed, logged or stored (errors are written without it).
A variable that is not set (or empty) is a reported skip: its items wait, none is given up.

Rounds take turns: on PostgreSQL a session advisory lock (a round that finds it held by another
process skips, saying so); on DuckDB the file has one writing process. The warehouse is used only
between the HTTP requests, under the caller's `lock` when one is given (ordersync serve's gate),
so a slow receiver never holds up the requests of a serve.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ordersync.aio import run_async
from ordersync.clock import Clock
from ordersync.errors import WarehouseError
from ordersync.secrets import register_secret, scrub
from ordersync.sources.http.retry import MAX_BACKOFF_SECONDS, backoff, parse_retry_after
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey, try_session_lock

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("ordersync.notify")

T = TypeVar("T")

#: The longest wait between two attempts of one item to one webhook.
#: Every request: connecting, sending and reading the answer, in all.
REQUEST_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
#: Items tried per webhook in one round (the rest wait for the next).
ROUND_LIMIT = 200


# -- webhooks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    name: str  # the environment variable: what is stored and shown
    url: str  # the secret
    format: str

    def __repr__(self) -> str:  # never the URL, even in a traceback's locals
        return f"Webhook({self.name!r}, {self.format!r})"


def webhooks_from(
    names: Iterable[str], formats: Mapping[str, str], default_format: str, environ: Mapping[str, str]
) -> tuple[list[Webhook], dict[str, str]]:
    """The webhooks the variables `names` hold, and those skipped ({variable: why}: not set, empty,
    not http(s)); each URL is registered with the scrubber as soon as it is read."""
    found: list[Webhook] = []
    skipped: dict[str, str] = {}
    for name in dict.fromkeys(names):
        url = (environ.get(name) or "").strip()
        if not url:
            skipped[name] = f"environment variable {name} is not set; set it to the webhook's URL"
            continue
        register_secret(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            skipped[name] = f"environment variable {name} does not hold an http:// or https:// URL"
            continue
        found.append(Webhook(name, url, formats.get(name, default_format)))
    return found, skipped


def without_url(text: str, hook: Webhook) -> str:
    """`text` with the webhook's URL and its host left out (for errors that are stored and shown)."""
    parts = urllib.parse.urlsplit(hook.url)
    hidden = {hook.url, hook.url.rstrip("/"), parts.netloc, parts.path, urllib.parse.quote(hook.url, safe="")}
    if parts.hostname:
        hidden.add(parts.hostname)
    hidden = {h for h in hidden if len(h) > 1}
    return scrub(text, hidden)


# -- what the caller gives -------------------------------------------------------------------------


@dataclass
class Pending(Generic[T]):
    """An item due to one webhook, with what was recorded of its earlier attempts."""

    item_id: str
    item: T
    attempts: int
    last_error: str | None


class Outbox(Protocol[T]):
    """The outbox table and its delivery records."""

    def due(self, wh: Warehouse, webhook: str, now: datetime, limit: int) -> list[Pending[T]]:
        """The items to send to `webhook` now: never tried, or failed and due again; oldest first."""
        ...

    def waiting(self, wh: Warehouse, webhook: str) -> int:
        """Items not yet delivered to `webhook` and not given up."""
        ...

    def record(self, wh: Warehouse, item_id: str, webhook: str, **values: Any) -> None:
        """Record an attempt: attempts, next_attempt_at, delivered_at, given_up_at, last_error."""
        ...


#: (body, extra headers) of one item for a webhook of the given format; the headers carry its stable id.
Render = Callable[[T, str], tuple[bytes, dict[str, str]]]


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
    #: what is delivered, plural, for log lines ("revision notices")
    what: str = "items"

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
            return f"{self.what}: another process is delivering them"
        parts = []
        for w in self.webhooks:
            if w.skipped:
                parts.append(f"{w.webhook} skipped ({w.skipped})")
            else:
                done = f"{w.delivered} delivered, {w.failed} failed, {w.given_up} given up"
                parts.append(f"{w.webhook} {done}, {w.waiting} waiting")
        return f"{self.what}: " + ("; ".join(parts) or "no webhook configured")


@dataclass
class Outcome:
    """What one POST came to: delivered, or the error (never holding the URL) and a server's hint."""

    ok: bool
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Retries:
    """When to try an item again, and when to give it up."""

    max_attempts: int
    backoff_seconds: float


class WebhookSender(Generic[T]):
    """One delivery round per deliver() call. `wh` is called for the warehouse each time it is needed
    (ordersync serve's builds close and reopen it); `lock` is held whenever it is used. `hooks()`
    reads the webhooks when a round starts: (those to try, {skipped variable: why})."""

    def __init__(
        self,
        wh: Callable[[], Warehouse],
        outbox: Outbox[T],
        render: Render[T],
        hooks: Callable[[], tuple[list[Webhook], dict[str, str]]],
        retries: Retries,
        clock: Clock,
        *,
        lock_key: LockKey,
        what: str,
        formats: Mapping[str, str],
        default_format: str,
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._wh = wh
        self.outbox = outbox
        self.render = render
        self.hooks = hooks
        self.retries = retries
        self.clock = clock
        self.lock_key = lock_key
        #: the item's name, singular, for log lines ("revision notice")
        self.what = what
        #: each webhook's format by its variable (`default_format` for the others), for skipped ones
        self.formats = formats
        self.default_format = default_format
        self._lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()

    def deliver(self, limit: int = ROUND_LIMIT) -> DeliverySummary:
        hooks, skipped = self.hooks()
        summary = DeliverySummary(what=f"{self.what}s")
        for name, why in skipped.items():
            summary.webhooks.append(WebhookRound(name, self.formats.get(name, self.default_format), skipped=why))
            log.warning("%ss to %s skipped: %s", self.what, name, why)
        if not hooks:
            self._count_waiting(summary)
            return summary
        with self._round() as held:
            if not held:
                summary.busy = True
                return summary
            rounds = [WebhookRound(h.name, h.format) for h in hooks]
            summary.webhooks[:0] = rounds
            run_async(self._send_all(hooks, rounds, limit))
        self._count_waiting(summary)
        return summary

    def _count_waiting(self, summary: DeliverySummary) -> None:
        with self._lock:
            wh = self._wh()
            for w in summary.webhooks:
                w.waiting = self.outbox.waiting(wh, w.webhook)

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
            with try_session_lock(conn, self.lock_key) as held:
                yield held
        finally:
            with suppress(WarehouseError):
                conn.close()

    # -- sending ----------------------------------------------------------------------------------
    async def _send_all(self, hooks: list[Webhook], rounds: list[WebhookRound], limit: int) -> None:
        import aiohttp  # kept off start-up: only a delivery round loads it

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "ordersync"}) as session:
            for hook, rnd in zip(hooks, rounds, strict=True):
                with self._lock:
                    todo = self.outbox.due(self._wh(), hook.name, self.clock.now(), limit)
                for pending in todo:
                    data, headers = self.render(pending.item, hook.format)
                    outcome = await self.post(session, hook, data, headers)
                    self._record(hook, pending, outcome, rnd)
                    if not outcome.ok:
                        break  # the receiver is failing: the rest wait for its next round

    async def post(
        self, session: aiohttp.ClientSession, hook: Webhook, data: bytes, headers: Mapping[str, str]
    ) -> Outcome:
        import aiohttp

        sent = {"Content-Type": "application/json", **headers}
        try:
            async with session.post(hook.url, data=data, headers=sent, allow_redirects=False) as resp:
                text = (await resp.content.read(400)).decode("utf-8", errors="replace")
                if 200 <= resp.status < 300:
                    return Outcome(True)
                detail = " ".join(text.split())[:200]
                error = f"HTTP {resp.status}" + (f": {detail}" if detail else "")
                if 300 <= resp.status < 400:
                    error += " (redirects are not followed: set the webhook's final URL)"
                hint = parse_retry_after(resp.headers.get("Retry-After"), self.clock.now())
                return Outcome(False, without_url(error, hook), hint)
        except TimeoutError:
            return Outcome(False, f"no answer within {REQUEST_TIMEOUT_SECONDS:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(False, without_url(f"{type(exc).__name__}: {exc}", hook))
        except OSError as exc:
            return Outcome(False, without_url(f"{type(exc).__name__}: {exc}", hook))

    def _record(self, hook: Webhook, pending: Pending[T], outcome: Outcome, rnd: WebhookRound) -> None:
        now = self.clock.now()
        attempts = pending.attempts + 1
        iid = pending.item_id
        if outcome.ok:
            self.save(hook, iid, attempts=attempts, next_attempt_at=None, delivered_at=now, given_up_at=None,
                      last_error=pending.last_error)  # fmt: skip
            rnd.delivered += 1
            return
        rnd.last_error = outcome.error
        if attempts >= self.retries.max_attempts:
            self.save(hook, iid, attempts=attempts, next_attempt_at=None, delivered_at=None, given_up_at=now,
                      last_error=outcome.error)  # fmt: skip
            rnd.given_up += 1
            log.error("%s %s to %s given up after %d attempts: %s", self.what, iid, hook.name, attempts, outcome.error)
            return
        wait = backoff(self.retries.backoff_seconds, attempts)
        if outcome.retry_after is not None:
            wait = min(max(wait, outcome.retry_after), MAX_BACKOFF_SECONDS)
        self.save(hook, iid, attempts=attempts, next_attempt_at=now + timedelta(seconds=wait), delivered_at=None,
                  given_up_at=None, last_error=outcome.error)  # fmt: skip
        rnd.failed += 1
        log.warning(
            "%s %s to %s failed (attempt %d, next in %.0f s): %s",
            self.what,
            iid,
            hook.name,
            attempts,
            wait,
            outcome.error,
        )

    def save(self, hook: Webhook, item_id: str, **values: Any) -> None:
        """Record one attempt (after its POST: a crash before this sends the item again)."""
        with self._lock:
            self.outbox.record(self._wh(), item_id, hook.name, **values)
