"""Who is asking: a bearer token, or a browser session made by logging in with one.

- A read token sees its own tenant; an admin token sees every tenant and may act (approve, reject,
  retry); a push token only pushes and a metrics token only scrapes: both are refused here (403).
- A session cookie (HttpOnly, SameSite=Strict, Secure over https) names a session kept in the
  warehouse (tenants/sessions.py): any serve process knows it, and it ends when its token is
  revoked. An action authenticated by the cookie must send the session's CSRF token (header
  X-CSRF-Token or form field `csrf`); a bearer call needs none, as no browser adds it on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from ordersync.errors import NotPermittedError, UnauthenticatedError
from ordersync.tenants.sessions import csrf_matches, csrf_token
from ordersync.tenants.tokens import Access, Scope
from ordersync.web.gate import Gate

SESSION_COOKIE = "ordersync_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
#: what a browser may keep the cookie for (the session itself ends sooner when it ends)
COOKIE_SECONDS = 12 * 3600
#: a form (the login's, an action's with its CSRF field) is a few hundred bytes: a larger or
#: unsized body is never parsed
MAX_FORM_BYTES = 16 * 1024


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


@dataclass(frozen=True)
class Caller:
    access: Access
    #: the session's id when the request came with the cookie (not a bearer token)
    session_id: str | None = None

    @property
    def only(self) -> int | None:
        """The one tenant this caller may see; None: every tenant."""
        return self.access.tenant_id if self.access.scope is Scope.READ else None

    @property
    def csrf(self) -> str | None:
        return None if self.session_id is None else csrf_token(self.session_id)


class Auth:
    """FastAPI dependencies: `reader` for reads, `admin` for fleet reads, `actor` for actions."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def caller(self, request: Request) -> Caller:
        token = bearer(request.headers.get("authorization"))
        if token is not None:
            access = await self.gate.read(lambda app: app.token_access(token))
            if access is None:
                raise UnauthenticatedError("the token is unknown or revoked")
            return Caller(access)
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            access = await self.gate.read(lambda app: app.session_access(session_id))
            if access is None:
                raise UnauthenticatedError("the session ended (logged out, expired or its token revoked): log in again")
            return Caller(access, session_id)
        raise UnauthenticatedError("send Authorization: Bearer <token> (ordersync tokens create) or log in at /login")

    async def reader(self, request: Request) -> Caller:
        """A read or admin token's caller."""
        caller = await self.caller(request)
        if caller.access.scope not in (Scope.READ, Scope.ADMIN):
            raise NotPermittedError(f"a {caller.access.scope.value} token cannot read here: use a read or admin token")
        return caller

    async def admin(self, request: Request) -> Caller:
        """An admin token's caller (fleet-wide reads)."""
        caller = await self.reader(request)
        if caller.access.scope is not Scope.ADMIN:
            raise NotPermittedError("this is the whole fleet's: an admin token reads it")
        return caller

    async def scraper(self, request: Request) -> bool:
        """Whether the request bears an admin or metrics token (GET /metrics; no session: a scraper
        is not a browser)."""
        token = bearer(request.headers.get("authorization"))
        if token is None:
            return False
        access = await self.gate.read(lambda app: app.token_access(token))
        return access is not None and access.scope in (Scope.ADMIN, Scope.METRICS)

    async def actor(self, request: Request) -> Caller:
        """An admin caller allowed to act: by bearer token, or by session with its CSRF token."""
        caller = await self.caller(request)
        if caller.access.scope is not Scope.ADMIN:
            raise NotPermittedError("actions need an admin token (ordersync tokens create --admin --label NAME)")
        if caller.session_id is not None:
            await check_csrf(caller.session_id, request)
        return caller


async def check_csrf(session_id: str, request: Request) -> None:
    """NotPermittedError unless the request carries the session's CSRF token."""
    if not csrf_matches(session_id, await _csrf_sent(request)):
        raise NotPermittedError(f"missing or wrong CSRF token: send the session's in {CSRF_HEADER} or `{CSRF_FIELD}`")


async def _csrf_sent(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("application/x-www-form-urlencoded", "multipart/form-data") and form_sized(request):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def form_sized(request: Request) -> bool:
    """Whether the request declares a body small enough to be a form (MAX_FORM_BYTES)."""
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= MAX_FORM_BYTES


def local_path(path: str | None) -> str | None:
    """`next` when it is a path of this site (never another site's address)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    parts = urlsplit(path)
    return path if not parts.scheme and not parts.netloc else None


async def form_back(request: Request) -> str | None:
    """The path of this site a page's form names in its field `back` (where to go after an action)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded" or not form_sized(request):
        return None
    value = (await request.form()).get("back")
    return local_path(value if isinstance(value, str) else None)
