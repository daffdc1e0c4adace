"""Push API tokens: each belongs to one tenant; only a SHA-256 of it is stored.

The hash is `ordersync.secrets.digest` (a fast one is safe for 256 random bits). The token itself
is shown once, when it is created.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ordersync.errors import ConnectionLostError, NotFoundError, TransientWarehouseError
from ordersync.secrets import digest
from ordersync.text import check_label
from ordersync.warehouse import Warehouse

PREFIX = "ost_"
#: last_used_at is written at most this often per token.
USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    tenant_id: int
    tenant_name: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    #: when a push last presented it (kept to the minute, see TokenStore.tenant_of)
    last_used_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "tenant": self.tenant_name,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


class TokenStore:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def create(self, tenant_id: int, label: str | None, now: datetime) -> tuple[str, str]:
        """(token_id, token); the token is not kept anywhere, only its hash."""
        label = check_label(label)
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        self.wh.execute(
            "INSERT INTO cdp.api_tokens (token_id, tenant_id, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (token_id, tenant_id, label, digest(token), now),
        )
        return token_id, token

    def tenant_of(self, token: str, now: datetime | None = None) -> int | None:
        """The tenant a live token belongs to (not revoked, its tenant neither disabled nor inactive),
        or None. With `now`, the token is marked used (at most once a USED_EVERY, so a burst of
        pushes writes once)."""
        row = self.wh.query_one(
            "SELECT k.token_id, k.tenant_id FROM cdp.api_tokens k JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
            "WHERE k.token_hash = ? AND k.revoked_at IS NULL AND t.sync_enabled AND t.is_active",
            (digest(token),),
        )
        if row is None:
            return None
        if now is not None:
            try:
                self.wh.execute(
                    "UPDATE cdp.api_tokens SET last_used_at = ? WHERE token_id = ? AND tenant_id = ? "
                    "AND (last_used_at IS NULL OR last_used_at < ?)",
                    (now, row[0], row[1], now - USED_EVERY),
                )
            except ConnectionLostError:
                raise
            except TransientWarehouseError:
                pass  # another request marking the same token at this moment (DuckDB): its mark will do
        return int(row[1])

    def list(self, tenant_id: int | None = None) -> list[TokenInfo]:
        sql = (
            "SELECT k.token_id, k.tenant_id, t.tenant_name, k.label, k.created_at, k.revoked_at, k.last_used_at "
            "FROM cdp.api_tokens k JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
        )
        if tenant_id is None:
            rows = self.wh.query(sql + "ORDER BY k.created_at, k.token_id")
        else:
            rows = self.wh.query(sql + "WHERE k.tenant_id = ? ORDER BY k.created_at, k.token_id", (tenant_id,))
        return [TokenInfo(*r) for r in rows]

    def revoke(self, token_id: str, now: datetime) -> TokenInfo:
        found = [t for t in self.list() if t.token_id == token_id]
        if not found:
            raise NotFoundError(f"no token with id {token_id!r}; ordersync tokens list shows them")
        if found[0].revoked_at is None:
            self.wh.execute("UPDATE cdp.api_tokens SET revoked_at = ? WHERE token_id = ?", (now, token_id))
        return next(t for t in self.list() if t.token_id == token_id)
