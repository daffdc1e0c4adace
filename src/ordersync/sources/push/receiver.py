"""Pushed batches: who may push (tokens), landing them through the one intake path, and
Idempotency-Key replays (a retried request gets the first answer and lands nothing)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ordersync.clock import Clock
from ordersync.errors import ConnectionLostError, TransientWarehouseError
from ordersync.land.intake import BatchResult, Intake, Item, PreparedBatch, prepare
from ordersync.sources.push.events import item_order_id, parse_pushed
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import PUSH_SOURCE
from ordersync.tenants.tokens import TokenStore
from ordersync.warehouse import Warehouse

SOURCE = PUSH_SOURCE
MAX_IDEMPOTENCY_KEY = 200
DEFAULT_IDEMPOTENCY_HOURS = 48.0
KEY_REUSED = "this Idempotency-Key was already used with a different body; use a new key for a new batch"
#: Expired keys deleted at most per new key.
PURGE_BATCH = 100


@dataclass(frozen=True)
class PushAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class PreparedPush:
    """A pushed batch parsed and checked without the warehouse (PushReceiver.prepare)."""

    tenant: Tenant
    batch: PreparedBatch
    idempotency_key: str | None
    #: SHA-256 of the request body, to tell a retry from another batch under the same key
    request_hash: str


@dataclass(frozen=True)
class PushGrant:
    """A live token's tenant and its own items-a-minute budget (None: `[serve] max_items_per_minute`)."""

    tenant: Tenant
    max_items_per_minute: int | None


class PushReceiver:
    def __init__(self, wh: Warehouse, clock: Clock, *, idempotency_hours: float = DEFAULT_IDEMPOTENCY_HOURS) -> None:
        self.wh = wh
        self.clock = clock
        self.idempotency_ttl = timedelta(hours=idempotency_hours)

    def tenant_for_token(self, token: str) -> Tenant | None:
        """The tenant a live token belongs to, or None (unknown, revoked, or its tenant disabled); the
        token is marked used."""
        grant = self.grant_for_token(token)
        return None if grant is None else grant.tenant

    def grant_for_token(self, token: str) -> PushGrant | None:
        """What a live token lets push (its tenant, its own budget), or None; the token is marked used."""
        holder = TokenStore(self.wh).holder_of(token, self.clock.now())
        if holder is None:
            return None
        return PushGrant(TenantStore(self.wh).by_id(holder.tenant_id), holder.max_items_per_minute)

    @staticmethod
    def prepare(tenant: Tenant, items: list[Item], *, idempotency_key: str | None, request: bytes) -> PreparedPush:
        """Parse and check the items, touching no warehouse: run it outside any lock."""
        batch = prepare(
            tenant.tenant_id,
            tenant.tz,
            items,
            SOURCE,
            uuid.uuid4().hex,
            parse=parse_pushed,
            order_id_of=item_order_id,
        )
        return PreparedPush(tenant, batch, idempotency_key, body_hash(request))

    def commit(self, prepared: PreparedPush) -> PushAnswer:
        """Land a prepared push in one transaction, or answer a retry of an earlier one.

        With an Idempotency-Key, the key's row is claimed first, inside the landing transaction, and
        completed with the answer before it commits. A second transaction claiming the same key (another
        process, on PostgreSQL) waits on the key's primary key until the first commits, then finds
        it taken and answers from it: the first answer (same body) or 409 (another body); on DuckDB
        the later commit fails instead and is answered the same way. A key expired after
        `idempotency_hours` is claimed again as new."""
        key = prepared.idempotency_key
        if key is None:
            return PushAnswer(200, Intake(self.wh, self.clock).write(prepared.batch).as_dict())
        tenant_id, digest = prepared.tenant.tenant_id, prepared.request_hash
        now = self.clock.now()
        expired_before = now - self.idempotency_ttl

        def complete(result: BatchResult) -> None:
            self.wh.execute(
                "UPDATE cdp.idempotency_keys SET status_code = ?, response = ? WHERE tenant_id = ? AND idem_key = ?",
                (200, json.dumps(result.as_dict()), tenant_id, key),
            )

        for attempt in range(2):
            try:
                with self.wh.transaction():
                    if self._claim(tenant_id, key, digest, now, expired_before):
                        result = Intake(self.wh, self.clock).write(prepared.batch, within=complete)
                        break
                    earlier = self._earlier(tenant_id, key)
            except ConnectionLostError:
                raise
            except TransientWarehouseError:
                # DuckDB does not wait on a key another connection holds: the first to commit keeps
                # it and this commit fails; answer from the key the second time round.
                if self.wh.concurrent_writers or attempt:
                    raise
                continue
            if earlier is None:
                continue  # purged since the claim looked (it had expired): claim it anew
            if earlier[0] != digest:
                return PushAnswer(409, {"detail": KEY_REUSED})
            return PushAnswer(earlier[1], json.loads(earlier[2]), replayed=True)
        else:
            raise TransientWarehouseError("the Idempotency-Key's record changed twice while it was claimed; retry")
        self._purge(tenant_id, expired_before)
        return PushAnswer(200, result.as_dict())

    def _claim(self, tenant_id: int, key: str, digest: str, now: datetime, expired_before: datetime) -> bool:
        """Take the key for this request (inside the landing transaction): a new row, or an expired
        one taken over. False when another request holds it (committed: this waited for it)."""
        if self.wh.query(
            "INSERT INTO cdp.idempotency_keys (tenant_id, idem_key, request_hash, status_code, response, created_at) "
            "VALUES (?, ?, ?, 0, '', ?) ON CONFLICT DO NOTHING RETURNING 1",
            (tenant_id, key, digest, now),
        ):
            return True
        # Taken over in place (not deleted and inserted again): a second claimer waits on the row
        # lock, then finds it no longer expired.
        return bool(
            self.wh.query(
                "UPDATE cdp.idempotency_keys SET request_hash = ?, status_code = 0, response = '', created_at = ? "
                "WHERE tenant_id = ? AND idem_key = ? AND created_at < ? RETURNING 1",
                (digest, now, tenant_id, key, expired_before),
            )
        )

    def _purge(self, tenant_id: int, expired_before: datetime) -> None:
        """Delete a few of the tenant's expired keys (each new key does, so they never pile up)."""
        # created_at is checked again outside the subquery: a key another request is taking over
        # right now is, once that commits, checked anew (PostgreSQL re-reads a row it waited for
        # against these conditions, not the subquery's) and kept.
        self.wh.execute(
            "DELETE FROM cdp.idempotency_keys WHERE tenant_id = ? AND created_at < ? AND idem_key IN (SELECT "
            "idem_key FROM cdp.idempotency_keys WHERE tenant_id = ? AND created_at < ? ORDER BY created_at LIMIT ?)",
            (tenant_id, expired_before, tenant_id, expired_before, PURGE_BATCH),
        )

    def receive(self, tenant: Tenant, items: list[Item], *, idempotency_key: str | None, request: bytes) -> PushAnswer:
        """prepare() then commit()."""
        return self.commit(self.prepare(tenant, items, idempotency_key=idempotency_key, request=request))

    def _earlier(self, tenant_id: int, key: str) -> tuple[str, int, str] | None:
        row = self.wh.query_one(
            "SELECT request_hash, status_code, response FROM cdp.idempotency_keys WHERE tenant_id = ? AND idem_key = ?",
            (tenant_id, key),
        )
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]))
