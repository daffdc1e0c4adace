"""Answers across tenants: builds, revenue as of a moment and its revisions, notices, plans. A read
token gets its own tenant's rows only (and no build log, which is the fleet's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ordersync.errors import ConfigError
from ordersync.reads import Reads
from ordersync.web.api.common import REFUSALS, Cursor, Limit, answer, paged
from ordersync.web.api.models import BuildsPage, DiffPage, Document, ListPage, PlanCheck, PlansPage, RevenuePage
from ordersync.web.auth import Auth, Caller
from ordersync.web.gate import Gate

CSV_FILE = 'attachment; filename="revenue.csv"'
TenantQuery = Annotated[str | None, Query(max_length=200, description="one tenant (default: all the token sees)")]


def _moment(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ConfigError(f"{name} has no time zone: add one, e.g. Z or -03:00")
    return value


def router(gate: Gate, auth: Auth) -> APIRouter:
    r = APIRouter(prefix="/v1", responses=REFUSALS)
    reader, admin = Depends(auth.reader), Depends(auth.admin)

    @r.get("/builds", response_model=BuildsPage, tags=["builds"])
    async def builds(caller: Caller = admin, limit: Limit = 100, cursor: Cursor = None) -> Response:
        """The build log, newest first (`ordersync builds --json` items); admin only."""
        return await paged(gate, cursor, lambda reads, after: reads.builds(after, limit))

    @r.get("/revenue", response_model=RevenuePage, tags=["revenue"])
    async def revenue(
        caller: Caller = reader,
        tenant: TenantQuery = None,
        as_of: Annotated[
            datetime | None, Query(description="as known at this moment, exactly (default: as last built)")
        ] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Daily revenue per tenant, day and currency (`ordersync revenue --json` days), with `as_of`."""
        moment = _moment(as_of, "as_of")
        return await paged(gate, cursor, lambda reads, after: reads.revenue(tenant, caller.only, moment, after, limit))

    @r.get(
        "/revenue.csv",
        tags=["revenue"],
        response_class=Response,
        responses={200: {"description": "`ordersync revenue --csv`, exactly", "content": {"text/csv": {}}}},
    )
    async def revenue_csv(
        caller: Caller = reader,
        tenant: TenantQuery = None,
        as_of: Annotated[
            datetime | None, Query(description="as known at this moment, exactly (default: as last built)")
        ] = None,
    ) -> Response:
        """Daily revenue as CSV: what `ordersync revenue [--tenant] [--as-of] --csv` prints (the
        Finance page's download)."""
        moment = _moment(as_of, "as_of")
        text = await gate.read(lambda app: Reads(app).revenue_csv(tenant, caller.only, moment))
        return Response(text, media_type="text/csv", headers={"Content-Disposition": CSV_FILE})

    @r.get("/revenue/diff", response_model=DiffPage, tags=["revenue"])
    async def revenue_diff(
        since: Annotated[datetime, Query(description="before: as known at this moment")],
        caller: Caller = reader,
        against: Annotated[datetime | None, Query(description="after: as known at this moment (default now)")] = None,
        tenant: TenantQuery = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Response:
        """Every day revised between two moments (`ordersync revenue diff --json` items)."""
        before, later = _moment(since, "since"), _moment(against, "against")
        assert before is not None  # required
        return await paged(
            gate, cursor, lambda reads, after: reads.revenue_diff(tenant, caller.only, before, later, after, limit)
        )

    @r.get("/notices", response_model=ListPage, tags=["revenue"])
    async def notices(caller: Caller = reader, limit: Limit = 100, cursor: Cursor = None) -> Response:
        """Closed-day revision notices with their delivery state, newest first."""
        return await paged(gate, cursor, lambda reads, after: reads.notices(caller.only, after, limit))

    @r.get("/plans", response_model=PlansPage, tags=["plans"])
    async def plans(caller: Caller = reader, limit: Limit = 100, cursor: Cursor = None) -> Response:
        """Plans, newest first (`ordersync plan list --json` items); a read token's: those of its tenant alone."""
        return await paged(gate, cursor, lambda reads, after: reads.plans(caller.only, after, limit))

    @r.get("/plans/{plan_id}", response_model=Document, tags=["plans"])
    async def plan(plan_id: str, caller: Caller = reader) -> Response:
        """The plan's document, as `ordersync plan show --format json` prints it."""
        return answer(await gate.read(lambda app: Reads(app).plan(plan_id, caller.only)))

    @r.get("/plans/{plan_id}/check", response_model=PlanCheck, tags=["plans"])
    async def plan_check(plan_id: str, caller: Caller = reader) -> Response:
        """Whether it still holds: the re-check `ordersync plan apply` makes first (nothing applied)."""
        return answer(await gate.read(lambda app: Reads(app).plan_check(plan_id, caller.only)))

    return r
