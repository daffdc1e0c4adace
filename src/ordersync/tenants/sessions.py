"""Browser sessions: a login with a token makes one, kept in the warehouse (cdp.web_sessions) so
every serve process sharing it knows the session, and it ends with its token's revocation.

Only a SHA-256 of the session id is stored. Its CSRF token is derived from the id (a second digest
with its own prefix): bound to the session, nothing more to keep, and unknowable without the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from ordersync.secrets import digest
from ordersync.tenants.tokens import Access, Scope
from ordersync.warehouse import Warehouse

#: a session lasts this long from its login, however active (log in again after)
LIFETIME = timedelta(hours=12)
_CSRF = "csrf:"


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: what a cookie-authenticated action must send back."""
    return digest(_CSRF + session_id)


def csrf_matches(session_id: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_id).encode(), (given or "").encode())


class SessionStore:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def open(self, token_id: str, now: datetime) -> str:
        """A new session for a live token; returns its id (shown once, as the cookie)."""
        session_id = secrets.token_urlsafe(32)
        self.wh.execute(
            "INSERT INTO cdp.web_sessions (session_hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (digest(session_id), token_id, now, now + LIFETIME),
        )
        return session_id

    def access_of(self, session_id: str, now: datetime) -> Access | None:
        """What a session allows: its token's access while the session is open and unexpired and its
        token live (not revoked, its tenant active); else None."""
        row = self.wh.query_one(
            "SELECT k.token_id, k.scope, k.tenant_id, k.label FROM cdp.web_sessions s "
            "JOIN cdp.api_tokens k ON k.token_id = s.token_id "
            "LEFT JOIN cdp.tenants t ON t.tenant_id = k.tenant_id "
            "WHERE s.session_hash = ? AND s.ended_at IS NULL AND s.expires_at > ? AND k.revoked_at IS NULL "
            "AND (k.tenant_id IS NULL OR t.is_active)",
            (digest(session_id), now),
        )
        return None if row is None else Access(str(row[0]), Scope(row[1]), row[2], row[3])

    def end(self, session_id: str, now: datetime) -> None:
        self.wh.execute(
            "UPDATE cdp.web_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
            (now, digest(session_id)),
        )
