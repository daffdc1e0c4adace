"""Browser login by token into a session cookie, the session's facts (its CSRF token), logout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ordersync.errors import NotPermittedError, UnauthenticatedError
from ordersync.tenants.tokens import Scope
from ordersync.web.api.common import REFUSALS, answer
from ordersync.web.api.models import SessionInfo
from ordersync.web.auth import (
    COOKIE_SECONDS,
    MAX_FORM_BYTES,
    SESSION_COOKIE,
    Auth,
    Caller,
    check_csrf,
    form_sized,
    local_path,
)
from ordersync.web.errors import problem
from ordersync.web.gate import Gate
from ordersync.web.models import Problem

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {"type": "string", "description": "a read or admin token"},
                        "next": {"type": "string", "description": "a path of this site to go to after"},
                    },
                }
            }
        },
    }
}


_LOGIN: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    303: {"description": "logged in: on to the form's `next` (a path of this site)"},
    413: {"model": Problem, "description": f"no Content-Length, or a form over {MAX_FORM_BYTES // 1024} KB"},
}


def _info(caller: Caller) -> dict[str, Any]:
    a = caller.access
    return {"scope": a.scope.value, "tenant_id": a.tenant_id, "label": a.label, "csrf": caller.csrf}


def router(gate: Gate, auth: Auth) -> APIRouter:
    r = APIRouter(tags=["session"])

    @r.post("/login", response_model=SessionInfo, responses=_LOGIN, openapi_extra=_FORM)
    async def login(request: Request) -> Response:
        """Log in with a read or admin token: sets the session cookie. A form with `next` is sent
        there (303); otherwise the session's facts, its CSRF token among them, come back as JSON."""
        if not form_sized(request):
            return problem(413, f"send the login form (at most {MAX_FORM_BYTES // 1024} KB) with its Content-Length")
        form = await request.form()
        token, goto = form.get("token"), form.get("next")
        if not isinstance(token, str) or not token.strip():
            raise UnauthenticatedError("send the form field `token`: a read or admin token")
        access = await gate.read(lambda app: app.token_access(token.strip()))
        if access is None:
            raise UnauthenticatedError("the token is unknown or revoked")
        if access.scope not in (Scope.READ, Scope.ADMIN):
            raise NotPermittedError(f"a {access.scope.value} token cannot log in: use a read or admin token")
        session_id = await gate.request(lambda app: app.open_session(access.token_id))
        caller = Caller(access, session_id)
        target = local_path(goto if isinstance(goto, str) else None)
        response: Response = RedirectResponse(target, status_code=303) if target else answer(_info(caller))
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=COOKIE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @r.get("/v1/session", response_model=SessionInfo, responses=REFUSALS)
    async def session(caller: Caller = Depends(auth.caller)) -> Response:
        """Who this token or session is, and (for a session) its CSRF token."""
        return answer(_info(caller))

    @r.post("/logout", status_code=204, responses=REFUSALS)
    async def logout(request: Request) -> Response:
        """End the session (the cookie's); the cookie is cleared."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            await check_csrf(session_id, request)
            await gate.request(lambda app: app.end_session(session_id))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return r
