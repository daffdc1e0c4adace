"""A served app with data for the pages' tests and the screenshots: a few tenants (one named with
HTML), landed orders, a build so revenue exists, a drafted plan and a quarantined record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from factories import vtex_order
from ordersync.facade import Ordersync
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.sync import runs

#: a tenant whose name is HTML (a name from before names were checked): every page shows it as text
HOSTILE = "<img src=x onerror=alert(1)><b>shop</b>"
PLAN_ID = "p-pages-approve"
#: a plan only forged forms try to approve
FORGED_PLAN_ID = "p-pages-forged"


def prepare(app: Ordersync) -> None:
    app.add_tenant("legacy", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    app.wh.execute("UPDATE cdp.tenants SET tenant_name = ? WHERE tenant_name = ?", (HOSTILE, "legacy"))
    now = datetime.now(UTC).replace(microsecond=0)
    for name, n in (("app", 12), ("other", 5), (HOSTILE, 3)):
        orders = [
            vtex_order(
                f"{name[:3]}-{i}",
                creationDate=(now - timedelta(days=i % 4, hours=i)).isoformat(),
                lastChange=(now - timedelta(days=i % 4, hours=i - 1)).isoformat(),
                value=10_000 + 150 * i,
                clientProfileData={"email": f"buyer{i % 4}@example.com", "userProfileId": f"u-{i % 4}"},
            )
            for i in range(n)
        ]
        app.land_records(name, [orjson.dumps(o) for o in orders])
    app.land_records("app", [b'{"orderId": "<i>broken</i>", "status": 7}'])
    tid = app.get_tenant("app").tenant_id
    for i in range(3):
        runs.start(app.wh, f"pages-run-{i}", tid, "incremental", now - timedelta(hours=3 * i), None)
    scope = {"tenant_ids": [tid], "tenants": ["app"], "from": (now - timedelta(days=3)).date().isoformat()}
    for plan_id in (PLAN_ID, FORGED_PLAN_ID):
        PlanStore(app.wh).save(Plan(plan_id, "restate", DRAFTED, "author", now, scope, {"orders": []}, ""), [])
    app.build()
