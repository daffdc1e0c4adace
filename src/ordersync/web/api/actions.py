"""Actions (admin token; a session's need its CSRF token): approve or reject a plan, retry a
quarantined record. They write, so they take the write path (Gate.request)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ordersync.errors import NotPermittedError
from ordersync.reads import Reads
from ordersync.web.api.common import REFUSALS, answer
from ordersync.web.api.models import Document
from ordersync.web.auth import Auth, Caller, form_back
from ordersync.web.gate import Gate
from ordersync.web.models import Problem

_ACTED = {
    **REFUSALS,
    303: {"description": "done, for a page's form naming `back` (a path of this site): on to it"},
    409: {"model": Problem, "description": "not allowed as asked (e.g. the author approving)"},
}


def _by(caller: Caller) -> str:
    label = caller.access.label
    if not label:
        raise NotPermittedError("this admin token has no label to record as the reviewer: create one with --label")
    return label


async def _done(request: Request, body: Any) -> Response:
    """The action's answer: JSON, or for a page's form with `back`, a 303 back to that page."""
    back = await form_back(request)
    return RedirectResponse(back, status_code=303) if back else answer(body)


def router(gate: Gate, auth: Auth) -> APIRouter:
    r = APIRouter(prefix="/v1", responses=_ACTED)
    actor = Depends(auth.actor)

    @r.post("/plans/{plan_id}/approve", response_model=Document, tags=["plans"])
    async def approve(plan_id: str, request: Request, caller: Caller = actor) -> Response:
        """`plan approve --by LABEL` (the token's label); in production not by the plan's author."""
        by = _by(caller)
        return await _done(request, await gate.request(lambda app: Reads(app).review(plan_id, by, approve=True)))

    @r.post("/plans/{plan_id}/reject", response_model=Document, tags=["plans"])
    async def reject(plan_id: str, request: Request, caller: Caller = actor) -> Response:
        """`plan reject --by LABEL` (the token's label): the plan can never apply."""
        by = _by(caller)
        return await _done(request, await gate.request(lambda app: Reads(app).review(plan_id, by, approve=False)))

    @r.post("/tenants/{tenant}/quarantine/{quarantine_id}/retry", response_model=Document, tags=["tenants"])
    async def retry(tenant: str, quarantine_id: int, request: Request, caller: Caller = actor) -> Response:
        """`quarantine retry --id`: parse the record again (refetched from the store when it came from one)."""
        return await _done(request, await gate.request(lambda app: Reads(app).retry(tenant, quarantine_id)))

    return r
