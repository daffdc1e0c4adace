"""`status` and `progress`: per tenant, how current it is, its last run and build, and its counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ordersync.land.quarantine import unresolved_counts
from ordersync.observe import lateness, summaries
from ordersync.sync import checkpoints, reconcile
from ordersync.sync.windows import history
from ordersync.tenants import Tenant
from ordersync.transform.builds import last_build
from ordersync.transform.isolation import held_by_tenant
from ordersync.warehouse import Warehouse


def sync_state(last_sync_at: datetime | None, now: datetime, frequency_hours: float = 6) -> str:
    """Current within one sync period, Behind within two, Stale after (the seed's 6 h / 12 h for a
    tenant synced every 6 hours)."""
    if last_sync_at is None:
        return "Stale"
    age = (now - last_sync_at).total_seconds() / 3600
    if age < frequency_hours:
        return "Current"
    if age < 2 * frequency_hours:
        return "Behind"
    return "Stale"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def tenant_status(
    wh: Warehouse,
    tenants: list[Tenant],
    now: datetime,
    direction: str,
    *,
    lateness_budget_days: float,
    counted: summaries.Counted,
) -> list[dict[str, Any]]:
    """The status items of `tenants`, from a fixed number of queries whatever their number: what
    landed comes from the tenant summaries (as `counted` finds them)."""
    kept = counted.kept
    totals = summaries.tenants(wh, kept)
    ids = [t.tenant_id for t in tenants]
    fct = summaries.built(wh)
    last_runs = {
        r[0]: r[1:]
        for r in wh.query(
            "SELECT r.tenant_id, r.status, r.mode, r.started_at, r.finished_at, r.error FROM cdp.sync_runs r "
            "JOIN (SELECT tenant_id, max(started_at) AS s FROM cdp.sync_runs GROUP BY 1) m "
            "ON m.tenant_id = r.tenant_id AND m.s = r.started_at"
        )
    }
    quarantined = unresolved_counts(wh)
    open_days = reconcile.open_days(wh)
    build = last_build(wh)
    held = held_by_tenant(wh)
    today = {t.tenant_id: now.astimezone(t.tz).date() for t in tenants}
    orders_today = summaries.orders_on(wh, kept, today)
    since = {t.tenant_id: lateness.first_date(t, now, lateness.STATUS_DAYS) for t in tenants}
    late = summaries.later_than(wh, kept, lateness_budget_days * lateness.DAY_SECONDS, since)
    if late is None:  # a budget between the buckets' bounds: ask the versions
        late = {t.tenant_id: lateness.over_budget(wh, t, now, lateness_budget_days) for t in tenants}
    positions = checkpoints.load_many(wh, ids)
    out: list[dict[str, Any]] = []
    for t in tenants:
        run = last_runs.get(t.tenant_id)
        landed = totals.get(t.tenant_id)
        last_landed = landed.last_landed_at if landed is not None else None
        progress = history(t, positions.get(t.tenant_id, {}), direction).progress
        out.append(
            {
                "tenant": t.tenant_name,
                "tenant_id": t.tenant_id,
                "enabled": t.sync_enabled,
                # a store without a pull API is as current as the last batch it sent
                "state": sync_state(t.last_sync_at if t.pulls else last_landed, now, t.sync_frequency_hours),
                "platform": t.platform,
                "change_capture": t.change_capture,
                "last_landed_at": _iso(last_landed),
                "sync_frequency_hours": t.sync_frequency_hours,
                "last_sync_at": t.last_sync_at.isoformat() if t.last_sync_at else None,
                "last_run_status": run[0] if run else None,
                "last_run_mode": run[1] if run else None,
                "last_run_error": run[4] if run else None,
                "orders_today": orders_today.get(t.tenant_id, 0),
                # what landed, counted up to this moment (serve's pages count every few seconds)
                "counted_at": counted.at.isoformat(),
                "orders_landed": landed.orders if landed is not None else 0,
                "orders_in_fct": int(fct.get(t.tenant_id, 0)),
                "quarantined": int(quarantined.get(t.tenant_id, 0)),
                "open_discrepancies": int(open_days.get(t.tenant_id, 0)),
                # landed, never dropped: flagged here over the last lateness.STATUS_DAYS order dates
                "late_versions_over_budget": late.get(t.tenant_id, 0),
                "historical_progress": f"{progress:.0%}",
                "initial_sync_completed": t.initial_sync_completed,
                "last_build_status": build["status"] if build else None,
                "last_build_at": build["started_at"] if build else None,
                "last_build_error": build["error"] if build else None,
                "last_build_failed_tenants": [f["tenant"] for f in build["failed_tenants"]] if build else [],
                # builds leave this tenant out since `since`: its data fails them (`error`)
                "build_held": held.get(t.tenant_id),
            }
        )
    return out


def tenant_progress(wh: Warehouse, tenants: list[Tenant], direction: str) -> list[dict[str, Any]]:
    """Historical sync progress per tenant: range, frontier, share done, completion flag."""
    out: list[dict[str, Any]] = []
    positions = checkpoints.load_many(wh, [t.tenant_id for t in tenants])
    for t in tenants:
        h = history(t, positions.get(t.tenant_id, {}), direction)
        out.append(
            {
                "tenant": t.tenant_name,
                "go_live_date": t.go_live_date.isoformat() if t.go_live_date else None,
                "history_until": h.until.isoformat() if h.until else None,
                "direction": direction,
                "frontier": h.frontier.isoformat() if h.frontier else None,
                "progress": round(h.progress, 4),
                "pending": h.pending,
                "initial_sync_completed": t.initial_sync_completed,
            }
        )
    return out
