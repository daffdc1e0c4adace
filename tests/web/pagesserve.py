"""A served app with data for the pages' tests and the screenshots: a few tenants (one named with
HTML), landed orders, a build so revenue exists, a drafted plan and a quarantined record; an order
revised after the build (a day `revenue diff` finds), two days checked against the source (a gap
still open, one fixed), customers' segment and stage moves, and a revision notice given up on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from factories import vtex_order
from ordersync.customers import events
from ordersync.facade import Ordersync
from ordersync.revisions import notices
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.sync import reconcile, runs

#: a tenant whose name is HTML (a name from before names were checked): every page shows it as text
HOSTILE = "<img src=x onerror=alert(1)><b>shop</b>"
PLAN_ID = "p-pages-approve"
#: a plan only forged forms try to approve
FORGED_PLAN_ID = "p-pages-forged"
#: app's order whose value changes after the build: its day is the one `revenue diff` finds
REVISED_ORDER = "app-1"
#: the webhook error of the notice given up on: markup that must show as text
HOSTILE_ERROR = "<script>alert('notice')</script> 502"
#: the segment moves written for app (from, to): two of the first, one of the second
MOVES = [("new", "loyal"), ("new", "loyal"), ("loyal", "<b>at risk</b>")]


def _order(name: str, i: int, now: datetime, **changed: object) -> bytes:
    fields: dict[str, object] = {
        "creationDate": (now - timedelta(days=i % 4, hours=i)).isoformat(),
        "lastChange": (now - timedelta(days=i % 4, hours=i - 1)).isoformat(),
        "value": 10_000 + 150 * i,
        "clientProfileData": {"email": f"buyer{i % 4}@example.com", "userProfileId": f"u-{i % 4}"},
        **changed,
    }
    return orjson.dumps(vtex_order(f"{name[:3]}-{i}", **fields))


def prepare(app: Ordersync) -> None:
    app.add_tenant("legacy", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    app.wh.execute("UPDATE cdp.tenants SET tenant_name = ? WHERE tenant_name = ?", (HOSTILE, "legacy"))
    now = datetime.now(UTC).replace(microsecond=0)
    for name, n in (("app", 12), ("other", 5), (HOSTILE, 3)):
        app.land_records(name, [_order(name, i, now) for i in range(n)])
    app.land_records("app", [b'{"orderId": "<i>broken</i>", "status": 7}'])
    tid = app.get_tenant("app").tenant_id
    for i in range(3):
        runs.start(app.wh, f"pages-run-{i}", tid, "incremental", now - timedelta(hours=3 * i), None)
    scope = {"tenant_ids": [tid], "tenants": ["app"], "from": (now - timedelta(days=3)).date().isoformat()}
    for plan_id in (PLAN_ID, FORGED_PLAN_ID):
        PlanStore(app.wh).save(Plan(plan_id, "restate", DRAFTED, "author", now, scope, {"orders": []}, ""), [])
    app.build()
    _after_the_build(app, tid, now)


def _after_the_build(app: Ordersync, tid: int, now: datetime) -> None:
    """What the build has not seen, or what only runs and the customers' step write."""
    app.land_records("app", [_order("app", 1, now, value=99_900, lastChange=now.isoformat())])
    tenant = app.get_tenant("app")
    gap_day, fixed_day = reconcile.last_complete_days(now, 2, tenant.tz, app.settings.sync.index_lag_minutes)
    held = reconcile.warehouse_days(app.wh, tid, fixed_day, gap_day)
    empty = reconcile.DayTotals(0, Decimal("0.00"))
    checks = [
        reconcile.DayCheck(d, reconcile.DayTotals(held.get(d, empty).orders + 2, Decimal("123.45")), held.get(d, empty))
        for d in (gap_day, fixed_day)
    ]
    reconcile.record(app.wh, tid, "pages-run-0", checks, now)
    reconcile.record_after(
        app.wh,
        "pages-run-0",
        [reconcile.DayCheck(fixed_day, held.get(fixed_day, empty), held.get(fixed_day, empty))],
        now,
    )
    moved = [
        events.Event(tid, f"c-{n}", events.EventKind.SEGMENT_CHANGED, old, new, now.date())
        for n, (old, new) in enumerate(MOVES)
    ]
    moved.append(events.Event(tid, "c-9", events.EventKind.STAGE_CHANGED, "first purchase", "repeat", now.date()))
    moved.append(events.Event(tid, "c-8", events.EventKind.SEGMENT_CHANGED, None, "new", now.date(), initial=True))
    events.write(app.wh, moved, "pages-customers", now)
    app.wh.execute(
        "INSERT INTO cdp.revision_notices (notice_id, tenant_id, order_date, currency_code, revenue_before, "
        "revenue_after, delta, orders_changed, known_before, known_after, revised_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("n-pages", tid, fixed_day, "BRL", Decimal("100.00"), Decimal("90.00"), Decimal("-10.00"), 1, None, None, now),
    )
    notices.record(
        app.wh, "n-pages", "FINANCE_HOOK", attempts=5, next_attempt_at=None, delivered_at=None,
        given_up_at=now, last_error=HOSTILE_ERROR,
    )  # fmt: skip
