"""The dashboard's pages: Overview, Tenant, Finance, Plans, Customers, and the login form.

Each page reads through the same functions the JSON API uses (ordersync.reads) on a reading
connection of its own (Gate.read), in one visit per request. Its view (sorting, filters, as-of
moment, page) is in the URL's query, so a link reproduces it. Not logged in: on to /login with the
page as `next`. Actions are forms posting to the API's actions with the session's CSRF token and a
`back` path, so the browser comes back to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from ordersync.errors import ConfigError, NotFoundError, NotPermittedError, UnauthenticatedError
from ordersync.facade import Ordersync
from ordersync.observe.lateness import BUCKETS
from ordersync.paging import MAX_LIMIT, decode, every_item
from ordersync.reads import Reads
from ordersync.tenants.tokens import Scope
from ordersync.web.auth import Auth, Caller
from ordersync.web.gate import Gate
from ordersync.web.pages.render import page

OVERVIEW_PAGE = 50
LIST_PAGE = 50
FLEET_HOURS = 48
TOP_CUSTOMERS = 10
#: the order dates the Tenant page sets beside the source
SOURCE_DAYS = 30
#: the days before today the Customers page counts moves from, unless another is chosen
MOVES_DAYS = 30
STATES = ("Current", "Behind", "Stale")
#: the Overview's sortable columns: the status item's field each sorts by
SORTS = {
    "tenant": "tenant",
    "state": "state",
    "last_sync": "last_sync_at",
    "next_due": "next_due",
    "orders_today": "orders_today",
    "late": "late_versions_over_budget",
    "quarantined": "quarantined",
}

Text = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=2000)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def chart(title: str, x: list[float], series: dict[str, list[float]], kind: str = "line") -> dict[str, Any]:
    """A chart's data as dashboard.js draws it: x in seconds since the epoch, one list per series."""
    return {"title": title, "kind": kind, "x": x, "series": [{"label": k, "values": v} for k, v in series.items()]}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _as_of(value: str | None, name: str = "as_of") -> datetime | None:
    """The picker's moment: ISO 8601, in UTC unless it names a zone (a datetime-local input names none)."""
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{name} {value[:40]!r} is not a moment (ISO 8601, e.g. 2026-11-20T12:00:00Z)") from exc
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _day(value: str | None, default: date) -> date:
    """The picker's day (YYYY-MM-DD), or `default` when none is chosen."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"since {value[:40]!r} is not a day (YYYY-MM-DD)") from exc


def _query(values: dict[str, Any]) -> str:
    """A query string of the values given (empty ones left out), each encoded."""
    return urlencode({k: v for k, v in values.items() if v})


def _seconds(run: dict[str, Any]) -> float | None:
    """How long a run took (None while it runs)."""
    if not run.get("finished_at"):
        return None
    return (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    return lambda item: (item.get(field) is None, item.get(field))


class Pages:
    def __init__(self, gate: Gate, auth: Auth) -> None:
        self.gate = gate
        self.auth = auth

    async def show(
        self, request: Request, template: str, build: Callable[[Reads, Caller], dict[str, Any]], **extra: Any
    ) -> Response:
        """The page `template` with what `build` reads, or the way to the login, or the error's page."""
        try:
            caller = await self.auth.reader(request)
        except (UnauthenticatedError, NotPermittedError):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        who = {
            "scope": caller.access.scope.value,
            "label": caller.access.label,
            "admin": caller.access.scope is Scope.ADMIN,
            "csrf": caller.csrf,
            "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        }
        try:
            data = await self.gate.read(lambda app: build(Reads(app), caller))
        except NotFoundError as exc:
            return page("error.html", 404, who=who, status=404, detail=str(exc), **extra)
        except ConfigError as exc:
            return page("error.html", 400, who=who, status=400, detail=str(exc), **extra)
        return page(template, who=who, **extra, **data)


def _next_due(app: Ordersync) -> dict[int, tuple[bool, datetime | None]]:
    """Per tenant: whether the worker pulls it at all (a store with a pull API, syncs enabled), and
    when its next incremental sync falls due (None: at once)."""
    return {t.tenant_id: (t.pulls and t.sync_enabled, t.next_sync_due) for t in app.list_tenants()}


def router(gate: Gate, auth: Auth) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    pages = Pages(gate, auth)

    @r.get("/login")
    async def login(next: Text = None) -> Response:
        return page("login.html", who=None, next=next or "/", nav="login")

    @r.get("/")
    async def overview(
        request: Request, state: Text = None, sort: Text = "tenant", desc: bool = False, page_number: PageNumber = 1
    ) -> Response:
        field = SORTS.get(sort or "tenant", "tenant")

        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            items = every_item(lambda c: reads.tenants(caller.only, decode(c), MAX_LIMIT))
            due, capture = _next_due(reads.app), {c["tenant_id"]: c for c in reads.capture(caller.only)}
            for item in items:
                item["pulled"], item["next_due"] = due.get(item["tenant_id"], (False, None))
                item["capture"] = capture.get(item["tenant_id"])
            chosen = [i for i in items if not state or i["state"] == state]
            chosen.sort(key=_sort_key(field), reverse=desc)
            start = (page_number - 1) * OVERVIEW_PAGE
            fleet = None
            if caller.only is None:  # the fleet's chart is the admin's: a read token sees one tenant
                now = datetime.now(UTC)
                hours = reads.fleet_hours(now - timedelta(hours=FLEET_HOURS - 1), now)
                fleet = chart(
                    "versions landed per hour (UTC)",
                    [_epoch(h["hour"]) for h in hours],
                    {"versions landed": [h["versions_landed"] for h in hours], "429s": [h["throttled"] for h in hours]},
                )
            return {
                "tenants": chosen[start : start + OVERVIEW_PAGE],
                "total": len(chosen),
                "counted_at": min((i["counted_at"] for i in items), default=None),
                "pages": max(1, -(-len(chosen) // OVERVIEW_PAGE)),
                "fleet": fleet,
            }

        query = {"state": state or "", "sort": sort or "tenant", "desc": desc}
        return await pages.show(
            request,
            "overview.html",
            build,
            nav="overview",
            refresh=30,
            query=query,
            page_number=page_number,
            states=STATES,
            sorts=list(SORTS),
            link=lambda **kw: "/?" + urlencode({**query, "page_number": page_number, **kw}),
        )

    @r.get("/tenants/{tenant:path}")
    async def tenant(request: Request, tenant: str, cursor: Cursor = None) -> Response:
        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            status = reads.tenant_status(tenant, caller.only)
            runs = reads.runs(tenant, caller.only, None, decode(cursor), LIST_PAGE)
            for run in runs.data:
                run["seconds"] = _seconds(run)
            days = list(reversed(reads.lateness(tenant, caller.only, 30, None, 100).data))
            held = reads.quarantine(tenant, caller.only, False, None, LIST_PAGE)
            against = list(reversed(reads.source_days(tenant, caller.only, SOURCE_DAYS, None, SOURCE_DAYS).data))
            source = chart(
                "orders per order date: built, and the source's where a check found them different",
                [_epoch(d["date"] + "T00:00:00+00:00") for d in against],
                {"built": [d["built_orders"] for d in against], "source": [d["source_orders"] for d in against]},
            )
            lateness = chart(
                "versions landed by lateness, per order date",
                [_epoch(d["date"] + "T00:00:00+00:00") for d in days],
                {b: [d["buckets"][b] for d in days] for b in BUCKETS},
                kind="bars",
            )
            return {
                "status": status,
                "runs": runs.data,
                "next": runs.next,
                "quarantine": held.data,
                "lateness": lateness,
                "days": list(reversed(against)),
                "source": source,
            }

        return await pages.show(request, "tenant.html", build, nav="overview", name=tenant)

    @r.get("/finance")
    async def finance(
        request: Request,
        tenant: Text = None,
        as_of: Text = None,
        since: Text = None,
        cursor: Cursor = None,
        diff_cursor: Cursor = None,
        notices_cursor: Cursor = None,
    ) -> Response:
        view = {"tenant": tenant or "", "as_of": as_of or "", "since": since or ""}

        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            moment, before = _as_of(as_of), _as_of(since, "since")
            found = reads.revenue(tenant or None, caller.only, moment, decode(cursor), 100)
            # revised between `since` and the moment shown (now, when the view is as last built)
            diff = (
                reads.revenue_diff(tenant or None, caller.only, before, moment, decode(diff_cursor), MAX_LIMIT)
                if before
                else None
            )
            revised = {(d["tenant"], d["date"], d["currency"]) for d in diff.data} if diff else set()
            for day in found.data:
                day["revised"] = (day["tenant"], day["date"], day["currency"]) in revised
            notices = reads.notices(caller.only, decode(notices_cursor), LIST_PAGE)
            return {
                "days": found.data,
                "next": found.next,
                "as_of": found.context.get("as_of"),
                "asked": moment,
                "since_moment": before,
                # the picker holds UTC to the second (datetime-local); links keep the moment as given
                "since_picked": before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if before else "",
                "diff": diff.data if diff else None,
                "diff_next": diff.next if diff else None,
                "notices": notices.data,
                "notices_next": notices.next,
                # the download is `revenue --csv` of this view: the same tenant and as-of moment
                "csv": "/v1/revenue.csv?" + _query({"tenant": tenant, "as_of": moment.isoformat() if moment else None}),
            }

        return await pages.show(
            request,
            "finance.html",
            build,
            nav="finance",
            tenant=tenant or "",
            picked=as_of or "",
            since=since or "",
            link=lambda **kw: "/finance?" + _query({**view, **kw}),
        )

    @r.get("/plans")
    async def plans(request: Request, cursor: Cursor = None) -> Response:
        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            found = reads.plans(caller.only, decode(cursor), LIST_PAGE)
            return {"plans": found.data, "next": found.next}

        return await pages.show(request, "plans.html", build, nav="plans")

    @r.get("/plans/{plan_id}")
    async def plan(request: Request, plan_id: str, check: bool = False) -> Response:
        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            document = reads.plan(plan_id, caller.only)
            held = reads.plan_check(plan_id, caller.only) if check else None
            return {"plan": document, "check": held}

        return await pages.show(request, "plan.html", build, nav="plans")

    @r.get("/customers")
    async def customers(
        request: Request, tenant: Text = None, key: Text = None, email: Text = None, since: Text = None
    ) -> Response:
        def build(reads: Reads, caller: Caller) -> dict[str, Any]:
            names = reads.tenant_names(caller.only)
            chosen = tenant or (names[0] if names else None)
            start = _day(since, datetime.now(UTC).date() - timedelta(days=MOVES_DAYS))
            if chosen is None:
                return {
                    "names": names,
                    "chosen": None,
                    "counts": None,
                    "top": [],
                    "customer": None,
                    "moves": None,
                    "since": start,
                }
            counts = reads.customer_counts(chosen, caller.only)
            top = reads.customers(
                chosen, caller.only, segment=None, stage=None, top=TOP_CUSTOMERS, after=None, limit=TOP_CUSTOMERS
            ).data
            one = reads.customer(chosen, caller.only, key or None, email or None) if key or email else None
            moved = every_item(lambda c: reads.customer_moves(chosen, caller.only, start, decode(c), MAX_LIMIT))
            moves = {kind: [m for m in moved if m["kind"] == kind] for kind in ("segment", "stage")}
            return {
                "names": names,
                "chosen": chosen,
                "counts": counts,
                "top": top,
                "customer": one,
                "moves": moves,
                "since": start,
            }

        return await pages.show(request, "customers.html", build, nav="customers", key=key or "", email=email or "")

    return r
