"""Screenshots of every dashboard page (PNG) into docs/screenshots/, from a demo-like warehouse.

Fills a DuckDB warehouse in a temporary folder (four stores, two weeks of orders landed late by
varying amounts, a day of sync runs, a drafted plan, a quarantined record, one build), serves it
with `ordersync serve`'s app, logs in with an admin token in Debian's Chromium (Playwright) and
captures each page. Run from the repository root:

    .venv/bin/python bench/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories import vtex_order  # run from the repository root
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.outcomes import RunStatus
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.sync import runs
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
    return app.create_token(None, "reviewer", scope=Scope.ADMIN)[1]


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
        app = Ordersync(settings_for(url, Path(folder)))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        pages = {
            "overview": "/",
            "tenant": "/tenants/petbaar",
            "finance": "/finance",
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
                if page.locator("[data-chart]").count():
                    page.wait_for_selector("[data-chart] canvas", state="attached")
                page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
                print(f"{args.out / name}.png  {path}")
            browser.close()


if __name__ == "__main__":
    main()
