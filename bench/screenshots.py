"""Screenshots of every dashboard page (PNG) into docs/screenshots/, from a demo-like warehouse.

Fills a DuckDB warehouse in a temporary folder (four stores, two weeks of orders landed late by
varying amounts, a day of sync runs, a drafted plan, a quarantined record, one build, then orders
revised after it, a day short of the source, customers' moves and a revision notice), serves it
with `ordersync serve`'s app, logs in with an admin token in Debian's Chromium (Playwright) and
captures each page. Run from the repository root:

    .venv/bin/python bench/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories import vtex_order  # run from the repository root
from ordersync.config import ServeSettings
from ordersync.customers import events
from ordersync.facade import Ordersync
from ordersync.outcomes import RunStatus
from ordersync.revisions import notices
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.sync import reconcile, runs
from ordersync.tenants.tokens import Scope
from support.sim import settings_for

STORES = {"petbaar": 40, "seven-sport": 25, "chelsea": 12, "casaflora": 30}
DAYS = 14
PLAN_ID = "p-restate-petbaar"
CHROMIUM = "/usr/bin/chromium"


def fill(app: Ordersync) -> str:
    """The demo-like data; the admin token."""
    app.upgrade()
    now = datetime.now(UTC).replace(microsecond=0)
    for s, (name, per_day) in enumerate(STORES.items()):
        app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        orders = []
        for day in range(DAYS):
            for i in range(per_day - day % 5):
                created = now - timedelta(days=day, minutes=37 * i + 11 * s)
                orders.append(
                    vtex_order(
                        f"{name[:2]}-{day}-{i}",
                        creationDate=created.isoformat(),
                        lastChange=(created + timedelta(minutes=(i * 97) % 900)).isoformat(),
                        value=4_990 + 731 * ((i * 7 + day) % 23),
                        status="canceled" if i % 17 == 3 else "invoiced",
                        clientProfileData={"email": f"c{(i * 13 + day) % 60}@{name}.example", "userProfileId": None},
                    )
                )
        app.land_records(name, [orjson.dumps(o) for o in orders])
        tenant = app.get_tenant(name)
        for r in range(8):
            began = now - timedelta(hours=3 * r + s)
            run_id = f"run-{name}-{r}"
            runs.start(app.wh, run_id, tenant.tenant_id, "full" if r == 7 else "incremental", began, None)
            failed = name == "chelsea" and r == 0
            counters = runs.RunCounters(
                orders_listed=per_day * 2, orders_fetched=per_day * 2, versions_landed=per_day * 2 - r, list_calls=3
            )
            status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
            error = "store answered 503 three times" if failed else None
            runs.finish(app.wh, run_id, status, began + timedelta(seconds=40 + 9 * r), counters, error)
        app.tenants.mark_synced(tenant.tenant_id, now - timedelta(hours=1 + 6 * s))
    app.land_records("petbaar", [b'{"orderId": "pe-broken", "status": "invoiced", "value": "not money"}'])
    petbaar = app.get_tenant("petbaar").tenant_id
    scope = {"tenant_ids": [petbaar], "tenants": ["petbaar"], "from": (now - timedelta(days=3)).date().isoformat()}
    PlanStore(app.wh).save(Plan(PLAN_ID, "restate", DRAFTED, "analyst", now, scope, {"orders": []}, ""), [])
    app.build()
    after_the_build(app, now)
    return app.create_token(None, "reviewer", scope=Scope.ADMIN)[1]


def after_the_build(app: Ordersync, now: datetime) -> None:
    """Two of petbaar's orders revised after the build (days `revenue diff` finds), its yesterday short
    of the source, moves between segments and stages, and a closed day's notice still being sent."""
    tenant = app.get_tenant("petbaar")
    revised = [
        vtex_order(
            f"pe-{day}-0",
            creationDate=(now - timedelta(days=day)).isoformat(),
            lastChange=now.isoformat(),
            value=18_990,
            status="canceled" if day == 5 else "invoiced",
            clientProfileData={"email": f"c{day % 60}@petbaar.example", "userProfileId": None},
        )
        for day in (2, 5)
    ]
    app.land_records("petbaar", [orjson.dumps(o) for o in revised])
    [yesterday] = reconcile.last_complete_days(now, 1, tenant.tz, app.settings.sync.index_lag_minutes)
    held = reconcile.warehouse_days(app.wh, tenant.tenant_id, yesterday, yesterday).get(yesterday)
    landed = held or reconcile.DayTotals(0, Decimal("0.00"))
    source = reconcile.DayTotals(landed.orders + 3, landed.total + Decimal("214.70"))
    reconcile.record(app.wh, tenant.tenant_id, "run-petbaar-0", [reconcile.DayCheck(yesterday, source, landed)], now)
    moves = [("new", "loyal")] * 9 + [("loyal", "at risk")] * 4 + [("at risk", "lost")] * 2 + [("new", "at risk")] * 3
    found = [
        events.Event(tenant.tenant_id, f"shot-{n}", events.EventKind.SEGMENT_CHANGED, old, new, now.date())
        for n, (old, new) in enumerate(moves)
    ]
    stages = [("first purchase", "repeat")] * 7 + [("repeat", "lapsing")] * 3
    found += [
        events.Event(tenant.tenant_id, f"shot-s{n}", events.EventKind.STAGE_CHANGED, old, new, now.date())
        for n, (old, new) in enumerate(stages)
    ]
    events.write(app.wh, found, "screenshots", now)
    closed = (now - timedelta(days=5)).date()
    app.wh.execute(
        "INSERT INTO cdp.revision_notices (notice_id, tenant_id, order_date, currency_code, revenue_before, "
        "revenue_after, delta, orders_changed, known_before, known_after, revised_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("n-shot", tenant.tenant_id, closed, "BRL", Decimal("1520.40"), Decimal("1350.50"), Decimal("-169.90"), 1,
         None, None, now),
    )  # fmt: skip
    notices.record(
        app.wh, "n-shot", "FINANCE_WEBHOOK_URL", attempts=2, next_attempt_at=now + timedelta(minutes=4),
        delivered_at=None, given_up_at=None, last_error="503 Service Unavailable",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = str(Path(folder) / "wh.duckdb")
        with Ordersync(settings_for(url, Path(folder))) as app:
            token = fill(app)
            built = app.revenue().as_of  # the revisions landed after it
        assert built is not None
        app = Ordersync(settings_for(url, Path(folder)))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        pages = {
            "overview": "/",
            "tenant": "/tenants/petbaar",
            "finance": "/finance?" + urlencode({"since": built.isoformat()}),
            "plans": "/plans",
            "plan": f"/plans/{PLAN_ID}",
            "customers": "/customers?tenant=petbaar",
        }
        with serving_in_thread(app, options) as (base, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
            context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto("/login?next=/")
            page.screenshot(path=str(args.out / "login.png"))
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for name, path in pages.items():
                page.goto(path)
                for figure in page.locator("[data-chart]").all():
                    figure.locator("canvas").wait_for(state="attached")
                page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
                print(f"{args.out / name}.png  {path}")
            browser.close()


if __name__ == "__main__":
    main()
