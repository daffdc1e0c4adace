"""`quarantine retry` reads pushed and ingested records as the push API does (order events or VTEX
bodies), not only as VTEX bodies."""

from __future__ import annotations

from pathlib import Path

from factories import push_event_json
from ordersync.facade import Ordersync
from ordersync.land import Lander
from support.sim import settings_for


def test_a_quarantined_event_that_parses_now_lands_on_retry(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        app.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        tid = app.tenants.get("app").tenant_id
        lander = Lander(app.wh, app.clock)
        # held back by an earlier rule, say; both sources of pushed records
        pushed, ingested = push_event_json("R-1", total_value="5.50"), push_event_json("R-2", total_value="5.50")
        lander.quarantine(tid, pushed, "an earlier parser refused it", "push", None, "R-1")
        lander.quarantine(tid, ingested, "an earlier parser refused it", "file", None, "R-2")
        lander.quarantine(tid, b'{"order_id": "R-3"}', "event_time is missing", "push", None, "R-3")
        result = app.quarantine_retry("app")
        assert (result.resolved, result.still_bad, result.landed) == (2, 1, 2)
        rows = app.wh.query("SELECT order_id, source, total_value FROM cdp.orders_landing ORDER BY 1")
        assert [(r[0], r[1], str(r[2])) for r in rows] == [("R-1", "push", "5.50"), ("R-2", "file", "5.50")]
        (left,) = app.quarantine_list("app")
        assert left["order_id"] == "R-3"
