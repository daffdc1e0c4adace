"""The lists and documents the API, the pages and the CLI's `--json` show, a page at a time.

Each list is `{"data": [...], "next": CURSOR_OR_NULL}` plus its context (paging.Page), with items
made by the same functions the CLI's `--json` prints. `only` is the one tenant a token may see
(None: every tenant); a tenant named that the caller may not see gets the same NotFoundError as
one that does not exist, so a token cannot tell another tenant's name from an unknown one.
Reads only, except the actions at the end (approve, reject, retry).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import orjson

from ordersync.customers import events as customer_events
from ordersync.customers.answers import customer_counts, customer_key_of
from ordersync.customers.events import event_key
from ordersync.errors import ConfigError, NotFoundError, StalePlanError
from ordersync.facade import Ordersync
from ordersync.observe.capture import capture_health, fleet_hours
from ordersync.observe.gaps import days_against_source
from ordersync.paging import Key, Page, check_limit, encode, instant, keyset, unpack
from ordersync.revisions import asof
from ordersync.revisions.notices import notice_key
from ordersync.revisions.plans import Plan, PlanStore, plan_key
from ordersync.revisions.shapes import day_key, diff_item, revenue_csv, revenue_row
from ordersync.sync.runs import run_key
from ordersync.tenants import Tenant
from ordersync.transform.builds import build_key


def plain(value: Any) -> Any:
    """A value as JSON holds it: exact decimals as text, moments and days in ISO 8601."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def json_bytes(value: Any) -> bytes:
    """`value` as JSON, holding what plain() makes of it (decimals as text, moments and days in ISO
    8601, keys as text), written by orjson in one pass: a long answer pays for no walk of its own
    (a week's diff of a large tenant is 35,000 orders)."""
    return orjson.dumps(value, default=_decimal_text, option=orjson.OPT_NON_STR_KEYS)


def _decimal_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _sql_page(items: list[dict[str, Any]], limit: int, key: Any) -> Page:
    """A page from `limit + 1` rows read in the list's order: the extra one says more remain."""
    check_limit(limit)
    data = items[:limit]
    return Page(data, encode(key(data[-1])) if len(items) > limit else None)


class Reads:
    def __init__(self, app: Ordersync) -> None:
        self.app = app

    # -- who may see what ----------------------------------------------------------------------
    def tenant(self, name: str, only: int | None) -> Tenant:
        """The tenant named, when the caller may see it; else the one NotFoundError for both cases (a
        caller who sees every tenant gets the store's, which names the known ones)."""
        if only is None:
            return self.app.get_tenant(name)
        try:
            found = self.app.get_tenant(name)
        except NotFoundError:
            found = None
        if found is None or (only is not None and found.tenant_id != only):
            raise NotFoundError(f"no tenant {name!r} that this token may see")
        return found

    def _plan(self, plan_id: str, only: int | None) -> Plan:
        try:
            plan = self.app.get_plan(plan_id)
        except NotFoundError:
            plan = None
        if plan is None or not _scope_visible(plan.scope, only):
            raise NotFoundError(f"no plan {plan_id!r} that this token may see")
        return plan

    # -- tenants -------------------------------------------------------------------------------
    def tenants(self, only: int | None, after: Key | None, limit: int) -> Page:
        """The status items (observe/status.py) in the order tenants were added (as `status`); only
        the page's tenants are computed."""
        chosen = [t for t in self.app.list_tenants() if only is None or t.tenant_id == only]
        ids = keyset([{"tenant_id": t.tenant_id} for t in chosen], lambda i: (i["tenant_id"],), after, limit)
        wanted = {i["tenant_id"] for i in ids.data}
        return Page(self.app.status([t for t in chosen if t.tenant_id in wanted]), ids.next)

    def tenant_names(self, only: int | None) -> list[str]:
        """The names of the tenants the caller may see, in the order they were added."""
        return [t.tenant_name for t in self.app.list_tenants() if only is None or t.tenant_id == only]

    def tenant_status(self, name: str, only: int | None) -> dict[str, Any]:
        return self.app.status([self.tenant(name, only)])[0]

    def runs(self, name: str | None, only: int | None, since: datetime | None, after: Key | None, limit: int) -> Page:
        """The run log, newest first: the tenant's (every tenant's when no name is given and the caller
        sees them all)."""
        tenant = self._scope(name, only)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # as `runs --since`: UTC unless it says otherwise
        items = self.app.recent_runs(tenant, since=since, limit=limit + 1, after=after)
        return _sql_page(items, limit, run_key)

    def builds(self, after: Key | None, limit: int) -> Page:
        return _sql_page(self.app.recent_builds(limit + 1, after), limit, build_key)

    def lateness(self, name: str, only: int | None, days: int, after: Key | None, limit: int) -> Page:
        items = self.app.lateness(self.tenant(name, only).tenant_name, days)
        return keyset(items, lambda i: (i["date"],), after, limit, newest_first=True)

    def gaps(self, name: str, only: int | None, days: int, after: Key | None, limit: int) -> Page:
        items = self.app.gaps(days, self.tenant(name, only).tenant_name)
        return keyset(items, lambda i: (i["date"],), after, limit)

    def capture(self, only: int | None) -> list[dict[str, Any]]:
        """Each visible tenant's change-capture health (observe/capture.py), by tenant id."""
        tenants = [t for t in self.app.list_tenants() if only is None or t.tenant_id == only]
        return [c.as_dict() for c in capture_health(self.app.wh, tenants)]

    def fleet_hours(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The fleet's landed versions and store requests per UTC hour (admin: the whole fleet's)."""
        return [h.as_dict() for h in fleet_hours(self.app.wh, since, until)]

    def quarantine(self, name: str | None, only: int | None, resolved: bool, after: Key | None, limit: int) -> Page:
        """Records that could not land, oldest first (by id: a new one comes after every cursor)."""
        start = None if after is None else unpack(after, int)[0]
        items = self.app.quarantine_list(self._scope(name, only), resolved, after=start, limit=limit + 1)
        return _sql_page(items, limit, lambda i: (i["quarantine_id"],))

    def source_days(self, name: str, only: int | None, days: int, after: Key | None, limit: int) -> Page:
        """The tenant's last complete days, newest first: landed beside the source as its runs' checks
        last found it, gaps marked (observe/gaps.py); nothing asked of the store."""
        tenant = self.tenant(name, only)
        items = days_against_source(self.app.wh, tenant, self.app.clock.now(), self.app.settings.sync, days)
        return keyset(items, lambda i: (i["date"],), after, limit, newest_first=True)

    # -- revenue -------------------------------------------------------------------------------
    def _names(self) -> dict[int, str]:
        return {t.tenant_id: t.tenant_name for t in self.app.list_tenants()}

    def _scope(self, name: str | None, only: int | None) -> str | None:
        """The tenant a fleet answer is about: the one named (if visible), or the token's own."""
        if name:
            return self.tenant(name, only).tenant_name
        return None if only is None else self.app.tenants.by_id(only).tenant_name

    def revenue(
        self, name: str | None, only: int | None, as_of: datetime | None, after: Key | None, limit: int
    ) -> Page:
        """revenue --json's days, with its `as_of` as the page's context. As built (no `as_of`), one
        page is read from revenue_daily; an answer as of a moment is computed whole, then paged."""
        scope, names = self._scope(name, only), self._names()
        key = _revenue_key
        if as_of is None:
            check_limit(limit)
            mark = None if after is None else unpack(after, str, date.fromisoformat, str)
            result = self.app.revenue_page(scope, mark, limit + 1)
            page = _sql_page([revenue_row(d, names) for d in result.days], limit, key)
        else:
            result = self.app.revenue(scope, as_of=as_of)
            page = keyset(result.days, lambda d: day_key(d, names), after, limit, shape=lambda d: revenue_row(d, names))
        page.context["as_of"] = result.as_of.isoformat() if result.as_of else None
        return page

    def revenue_diff(
        self,
        name: str | None,
        only: int | None,
        since: datetime,
        against: datetime | None,
        after: Key | None,
        limit: int,
    ) -> Page:
        """Days revised from `since` to `against`. Without `against`, the first page pins it to now and
        its cursor carries it: every next page is of the same answer, kept by the facade (a past moment's
        answer never changes), and names it (`against`)."""
        if after is not None:
            moment = unpack(after, instant, str, str, str)[0]
            if against is not None and moment != against:
                raise ConfigError("the cursor is of a diff against another moment: start again without ?cursor=")
            against = moment
        pinned = against or asof.sealed_now(self.app.wh, self.app.clock)
        days = self.app.revenue_diff(since, pinned, self._scope(name, only))
        names, at = self._names(), pinned.isoformat()
        page = keyset(days, lambda d: (at, *day_key(d, names)), after, limit, shape=lambda d: diff_item(d, names))
        page.context.update(since=since.isoformat(), against=pinned.isoformat())
        return page

    def notices(self, only: int | None, after: Key | None, limit: int) -> Page:
        scope = None if only is None else self.app.tenants.by_id(only).tenant_name
        items = self.app.list_notices(scope, after=after, limit=limit + 1)
        return _sql_page(items, limit, notice_key)

    def revenue_csv(self, name: str | None, only: int | None, as_of: datetime | None) -> str:
        """Exactly what `revenue --csv` prints for the same tenant and as-of moment."""
        out = io.StringIO(newline="")
        revenue_csv(self.app.revenue(self._scope(name, only), as_of=as_of).days, self._names(), out)
        return out.getvalue()

    # -- plans ---------------------------------------------------------------------------------
    def plans(self, only: int | None, after: Key | None, limit: int) -> Page:
        """The plans, newest first: every one, or those a tenant's token may see (touching its tenant only)."""
        visible = None if only is None else partial(_scope_visible, only=only)
        found = PlanStore(self.app.wh).page(after, limit + 1, visible)
        return _sql_page([p.summary() for p in found], limit, plan_key)

    def plan(self, plan_id: str, only: int | None) -> dict[str, Any]:
        """The document `plan show --format json` prints."""
        return self._plan(plan_id, only).document()

    def plan_check(self, plan_id: str, only: int | None) -> dict[str, Any]:
        """Whether the plan still holds: the re-check `plan apply` makes first, nothing applied."""
        plan = self._plan(plan_id, only)
        try:
            self.app.check_plan(plan.plan_id)
        except StalePlanError as exc:
            return {"plan_id": plan.plan_id, "status": plan.status, "holds": False, "detail": str(exc)}
        return {"plan_id": plan.plan_id, "status": plan.status, "holds": True, "detail": None}

    # -- customers -----------------------------------------------------------------------------
    def customers(
        self,
        name: str,
        only: int | None,
        *,
        segment: str | None,
        stage: str | None,
        top: int | None,
        after: Key | None,
        limit: int,
    ) -> Page:
        tenant = self.tenant(name, only).tenant_name
        found = self.app.list_customers(tenant, segment=segment, stage=stage, top=top, after=after, limit=limit + 1)
        return _sql_page([plain(i) for i in found], limit, customer_key_of)  # the most valuable first

    def customer_counts(self, name: str, only: int | None) -> dict[str, dict[str, int]]:
        """How many of the tenant's customers are in each segment and each journey stage."""
        return customer_counts(self.app.wh, self.tenant(name, only).tenant_id)

    def customer(self, name: str, only: int | None, key: str | None, email: str | None = None) -> dict[str, Any]:
        """One customer by key, or by an email of theirs; identifiers masked."""
        tenant = self.tenant(name, only).tenant_name
        return dict(plain(self.app.show_customer(tenant, key=key, email=email)))

    def customer_events(self, name: str, only: int | None, since: date | None, after: Key | None, limit: int) -> Page:
        items = self.app.customer_events(self.tenant(name, only).tenant_name, since=since, after=after, limit=limit + 1)
        return _sql_page(items, limit, event_key)

    def customer_moves(self, name: str, only: int | None, since: date | None, after: Key | None, limit: int) -> Page:
        """Segment and stage moves since a day, counted per from and to (initial events left out);
        `since` as the page's context."""
        items = customer_events.moves(self.app.wh, self.tenant(name, only).tenant_id, since)
        page = keyset(items, lambda i: (i["kind"], i["from"], i["to"]), after, limit)
        page.context["since"] = since.isoformat() if since else None
        return page

    # -- actions -------------------------------------------------------------------------------
    def review(self, plan_id: str, by: str, approve: bool) -> dict[str, Any]:
        """Approve or reject as `plan approve|reject --by` (in production the author cannot approve)."""
        desk = self.app.plans
        plan = desk.approve(plan_id, by) if approve else desk.reject(plan_id, by)
        return plan.summary()

    def retry(self, name: str, quarantine_id: int) -> dict[str, Any]:
        """`quarantine retry --id` of one record of the tenant's."""
        tenant = self.tenant(name, None).tenant_name
        if not self.app.quarantine_list(tenant, include_resolved=True, ids=[quarantine_id]):
            raise NotFoundError(f"no quarantined record {quarantine_id} of this tenant")
        return dict(plain(self.app.quarantine_retry(tenant, [quarantine_id]).as_dict()))


def _scope_visible(scope: dict[str, Any], only: int | None) -> bool:
    """A tenant's token sees a plan only when it touches no other tenant (by the plan's scope)."""
    if only is None:
        return True
    return [int(t) for t in scope.get("tenant_ids", [])] == [only]


def _revenue_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """A revenue day's place in the API's lists: tenant name, day, currency."""
    return (item["tenant"], item["date"], item["currency"])
