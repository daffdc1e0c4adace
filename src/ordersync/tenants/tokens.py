"""API tokens, each with a scope: push (land one tenant's orders), read (read one tenant's data),
admin (every tenant, and the actions) or metrics (scrape /metrics). Only a SHA-256 of a token is
stored.

The hash is `ordersync.secrets.digest` (a fast one is safe for 256 random bits). The token itself
is shown once, when it is created.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ordersync.errors import ConfigError, ConnectionLostError, NotFoundError, TransientWarehouseError
from ordersync.secrets import digest
from ordersync.text import check_label
from ordersync.warehouse import Warehouse

PREFIX = "ost_"
#: last_used_at is written at most this often per token.
USED_EVERY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a token lets its holder do."""

    PUSH = "push"  # land one tenant's orders (every token made before scopes existed)
    READ = "read"  # read one tenant's data in the API and the pages
    ADMIN = "admin"  # read every tenant's, and act: approve or reject plans, retry quarantine
    METRICS = "metrics"  # scrape /metrics

    @property
    def has_tenant(self) -> bool:
        return self in (Scope.PUSH, Scope.READ)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    #: None for an admin or metrics token
    tenant_id: int | None
    tenant_name: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    #: when a push last presented it (kept to the minute, see TokenStore.holder_of)
    last_used_at: datetime | None = None
    #: its own items-a-minute budget; None keeps `[serve] max_items_per_minute`
    max_items_per_minute: int | None = None
    scope: Scope = Scope.PUSH

    def public(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "scope": self.scope.value,
            "tenant": self.tenant_name,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "max_items_per_minute": self.max_items_per_minute,
        }


@dataclass(frozen=True)
class Holder:
    """Who a live token lets push: its tenant, and its own budget (None: the server's)."""

    tenant_id: int
    max_items_per_minute: int | None


@dataclass(frozen=True)
class Access:
    """What a live token lets its holder see and do (the API's and the pages' question)."""

    token_id: str
    scope: Scope
    #: the one tenant a read or push token sees; None for admin and metrics tokens
    tenant_id: int | None
    label: str | None


class TokenStore:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def create(
        self,
        tenant_id: int | None,
        label: str | None,
        now: datetime,
        max_items_per_minute: int | None = None,
        scope: Scope = Scope.PUSH,
    ) -> tuple[str, str]:
        """(token_id, token); the token is not kept anywhere, only its hash. A push or read token
        belongs to a tenant; an admin token needs a label (the name its approvals record)."""
        label = check_label(label)
        per_minute = check_budget(max_items_per_minute)
        if scope.has_tenant != (tenant_id is not None):
            raise ConfigError(f"a {scope.value} token {'needs' if scope.has_tenant else 'takes no'} --tenant")
        if scope is Scope.ADMIN and label is None:
            raise ConfigError("an admin token needs --label NAME: it is the name recorded on the plans it approves")
        if per_minute is not None and scope is not Scope.PUSH:
            raise ConfigError("--max-items-per-minute is for push tokens only")
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        self.wh.execute(
            "INSERT INTO cdp.api_tokens (token_id, tenant_id, label, token_hash, created_at, max_items_per_minute, "
            "scope) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token_id, tenant_id, label, digest(token), now, per_minute, scope.value),
        )
        return token_id, token

    def access_of(self, token: str) -> Access | None:
        """What a live token allows (not revoked; a tenant's token only while its tenant is active),
        or None."""
        row = self.wh.query_one(
            "SELECT k.token_id, k.scope, k.tenant_id, k.label FROM cdp.api_tokens k "
            "LEFT JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
            "WHERE k.token_hash = ? AND k.revoked_at IS NULL AND (k.tenant_id IS NULL OR t.is_active)",
            (digest(token),),
        )
        return None if row is None else Access(str(row[0]), Scope(row[1]), row[2], row[3])

    def set_budget(self, token_id: str, max_items_per_minute: int | None) -> TokenInfo:
        """Give a token its own budget (None: back to the server's); a running serve reads it at the
        token's next request."""
        per_minute = check_budget(max_items_per_minute)
        if per_minute is not None and self.find(token_id).scope is not Scope.PUSH:
            raise ConfigError("--max-items-per-minute is for push tokens only")
        self.find(token_id)
        self.wh.execute("UPDATE cdp.api_tokens SET max_items_per_minute = ? WHERE token_id = ?", (per_minute, token_id))
        return self.find(token_id)

    def tenant_of(self, token: str, now: datetime | None = None) -> int | None:
        """The tenant a live token belongs to, or None (see holder_of)."""
        holder = self.holder_of(token, now)
        return None if holder is None else holder.tenant_id

    def holder_of(self, token: str, now: datetime | None = None) -> Holder | None:
        """Who a live push token lets push (not revoked, its tenant neither disabled nor inactive), or
        None: a read, admin or metrics token pushes nothing. With `now`, the token is marked used (at
        most once a USED_EVERY, so a burst of pushes writes once)."""
        row = self.wh.query_one(
            "SELECT k.token_id, k.tenant_id, k.max_items_per_minute FROM cdp.api_tokens k "
            "JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
            "WHERE k.token_hash = ? AND k.revoked_at IS NULL AND k.scope = ? AND t.sync_enabled AND t.is_active",
            (digest(token), Scope.PUSH.value),
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
        return Holder(int(row[1]), None if row[2] is None else int(row[2]))

    def list(self, tenant_id: int | None = None) -> list[TokenInfo]:
        sql = (
            "SELECT k.token_id, k.tenant_id, t.tenant_name, k.label, k.created_at, k.revoked_at, k.last_used_at, "
            "k.max_items_per_minute, k.scope "
            "FROM cdp.api_tokens k LEFT JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
        )
        if tenant_id is None:
            rows = self.wh.query(sql + "ORDER BY k.created_at, k.token_id")
        else:
            rows = self.wh.query(sql + "WHERE k.tenant_id = ? ORDER BY k.created_at, k.token_id", (tenant_id,))
        return [
            TokenInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], Scope(r[8] or Scope.PUSH.value)) for r in rows
        ]

    def find(self, token_id: str) -> TokenInfo:
        found = [t for t in self.list() if t.token_id == token_id]
        if not found:
            raise NotFoundError(f"no token with id {token_id!r}; ordersync tokens list shows them")
        return found[0]

    def revoke(self, token_id: str, now: datetime) -> TokenInfo:
        if self.find(token_id).revoked_at is None:
            self.wh.execute("UPDATE cdp.api_tokens SET revoked_at = ? WHERE token_id = ?", (now, token_id))
        return self.find(token_id)


#: the most a token's own budget may be: a million items a second
MAX_BUDGET = 60_000_000


def check_budget(per_minute: int | None) -> int | None:
    """A token's own budget as stored: None keeps the server's; 1 to MAX_BUDGET items a minute."""
    if per_minute is None:
        return None
    if not 1 <= per_minute <= MAX_BUDGET:
        raise ConfigError(
            f"--max-items-per-minute must be 1 to {MAX_BUDGET:,} (leave it out for [serve] max_items_per_minute)"
        )
    return per_minute
