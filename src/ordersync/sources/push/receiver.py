"""Pushed batches: who may push (tokens), landing them through the one intake path, and
Idempotency-Key replays (a retried request gets the first answer and lands nothing)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from ordersync.clock import Clock
from ordersync.land.intake import BatchResult, Intake, Item, PreparedBatch, prepare
from ordersync.sources.push.events import item_order_id, parse_pushed
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse
from ordersync.web.tokens import TokenStore

SOURCE = "push"
MAX_IDEMPOTENCY_KEY = 200


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


class PushReceiver:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.clock = clock

    def tenant_for_token(self, token: str) -> Tenant | None:
        """The tenant a live token belongs to, or None (unknown or revoked)."""
        tenant_id = TokenStore(self.wh).tenant_of(token)
        return None if tenant_id is None else TenantStore(self.wh).by_id(tenant_id)

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
        """Land a prepared push in one transaction, or answer a retry of an earlier one."""
        tenant_id, key, digest = prepared.tenant.tenant_id, prepared.idempotency_key, prepared.request_hash
        if key is not None:
            earlier = self._earlier(tenant_id, key)
            if earlier is not None:
                if earlier[0] != digest:
                    return PushAnswer(
                        409,
                        {
                            "detail": "this Idempotency-Key was already used with a different body; "
                            "use a new key for a new batch"
                        },
                    )
                return PushAnswer(int(earlier[1]), json.loads(earlier[2]), replayed=True)

        def remember(result: BatchResult) -> None:
            if key is not None:
                self.wh.execute(
                    "INSERT INTO cdp.idempotency_keys (tenant_id, idem_key, request_hash, status_code, response, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (tenant_id, key, digest, 200, json.dumps(result.as_dict()), self.clock.now()),
                )

        result = Intake(self.wh, self.clock).write(prepared.batch, within=remember)
        return PushAnswer(200, result.as_dict())

    def receive(self, tenant: Tenant, items: list[Item], *, idempotency_key: str | None, request: bytes) -> PushAnswer:
        """prepare() then commit()."""
        return self.commit(self.prepare(tenant, items, idempotency_key=idempotency_key, request=request))

    def _earlier(self, tenant_id: int, key: str) -> tuple[str, int, str] | None:
        row = self.wh.query_one(
            "SELECT request_hash, status_code, response FROM cdp.idempotency_keys WHERE tenant_id = ? AND idem_key = ?",
            (tenant_id, key),
        )
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]))
