"""One tenant's data: its status, runs, lateness, gaps, quarantine and customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ordersync.reads import Reads
from ordersync.web.api.common import REFUSALS, Cursor, Limit, answer, paged
from ordersync.web.api.models import (
    CustomerMovesPage,
    Document,
    ListPage,
    QuarantinePage,
    RunsPage,
    SourceDaysPage,
    TenantsPage,
    TenantStatus,
)
from ordersync.web.auth import Auth, Caller
from ordersync.web.gate import Gate

Days = Annotated[int, Query(ge=1, le=366, description="the last N order dates")]


def router(gate: Gate, auth: Auth) -> APIRouter:
    r = APIRouter(prefix="/v1/tenants", tags=["tenants"], responses=REFUSALS)
    reader = Depends(auth.reader)

    @r.get("", response_model=TenantsPage)
    async def tenants(caller: Caller = reader, limit: Limit = 100, cursor: Cursor = None) -> Response:
        """Every tenant's status (`ordersync status --json` items), by name; a read token's own only."""
        return await paged(gate, cursor, lambda reads, after: reads.tenants(caller.only, after, limit))

    @r.get("/{tenant}", response_model=TenantStatus)
    async def tenant(tenant: str, caller: Caller = reader) -> Response:
        """One tenant's status item."""
        return answer(await gate.read(lambda app: Reads(app).tenant_status(tenant, caller.only)))

    @r.get("/{tenant}/runs", response_model=RunsPage)
    async def runs(
        tenant: str,
        caller: Caller = reader,
        since: Annotated[datetime | None, Query(description="runs started at or after this moment")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Its sync runs, newest first (`ordersync runs --json` items)."""
        return await paged(gate, cursor, lambda reads, after: reads.runs(tenant, caller.only, since, after, limit))

    @r.get("/{tenant}/lateness", response_model=ListPage)
    async def lateness(
        tenant: str, caller: Caller = reader, days: Days = 30, limit: Limit = 100, cursor: Cursor = None
    ) -> Response:
        """Versions by lateness per order date, newest date first (`ordersync lateness --json` items)."""
        return await paged(gate, cursor, lambda reads, after: reads.lateness(tenant, caller.only, days, after, limit))

    @r.get("/{tenant}/gaps", response_model=ListPage)
    async def gaps(
        tenant: str, caller: Caller = reader, days: Days = 30, limit: Limit = 100, cursor: Cursor = None
    ) -> Response:
        """Days the warehouse holds less than the source (asked live; `ordersync gaps --json` items)."""
        return await paged(gate, cursor, lambda reads, after: reads.gaps(tenant, caller.only, days, after, limit))

    @r.get("/{tenant}/source-days", response_model=SourceDaysPage)
    async def source_days(
        tenant: str, caller: Caller = reader, days: Days = 30, limit: Limit = 100, cursor: Cursor = None
    ) -> Response:
        """Its last complete days, newest first: landed beside the source as its runs' checks last found
        it (cdp.discrepancies), gaps marked; nothing asked of the store (`gaps` asks it live)."""
        return await paged(
            gate, cursor, lambda reads, after: reads.source_days(tenant, caller.only, days, after, limit)
        )

    @r.get("/{tenant}/quarantine", response_model=QuarantinePage)
    async def quarantine(
        tenant: str,
        caller: Caller = reader,
        resolved: Annotated[bool, Query(description="resolved records too")] = False,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Records that could not land, oldest first (`ordersync quarantine list --json` items)."""
        return await paged(
            gate, cursor, lambda reads, after: reads.quarantine(tenant, caller.only, resolved, after, limit)
        )

    @r.get("/{tenant}/customers", response_model=ListPage)
    async def customers(
        tenant: str,
        caller: Caller = reader,
        segment: Annotated[str | None, Query(max_length=100)] = None,
        stage: Annotated[str | None, Query(max_length=100)] = None,
        top: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Customers, the most valuable first (`ordersync customers list --json` items)."""
        return await paged(
            gate,
            cursor,
            lambda reads, after: reads.customers(
                tenant, caller.only, segment=segment, stage=stage, top=top, after=after, limit=limit
            ),
        )

    @r.get("/{tenant}/customers/{key}", response_model=Document)
    async def customer(tenant: str, key: str, caller: Caller = reader) -> Response:
        """One customer: profile, scores, stage, CLV, orders, events; identifiers masked."""
        return answer(await gate.read(lambda app: Reads(app).customer(tenant, caller.only, key)))

    @r.get("/{tenant}/customer-events", response_model=ListPage)
    async def customer_events(
        tenant: str,
        caller: Caller = reader,
        since: Annotated[date | None, Query(description="events on or after this day")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Segment and stage moves, oldest first (`ordersync customers events --json` items)."""
        return await paged(
            gate, cursor, lambda reads, after: reads.customer_events(tenant, caller.only, since, after, limit)
        )

    @r.get("/{tenant}/customer-moves", response_model=CustomerMovesPage)
    async def customer_moves(
        tenant: str,
        caller: Caller = reader,
        since: Annotated[date | None, Query(description="moves on or after this day")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Segment and stage moves counted per from and to, initial ones left out, with `since`."""
        return await paged(
            gate, cursor, lambda reads, after: reads.customer_moves(tenant, caller.only, since, after, limit)
        )

    return r
