"""The sync run log and the build log read back (`ordersync runs`, `ordersync builds`): newest first,
at most N, every column of the table under its own name, datetimes as ISO-8601; runs for one tenant
or everyone's, since a moment. One test on each warehouse: rows written straight into the tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ordersync.sync import runs
from ordersync.tenants import Tenant, TenantStore
from ordersync.transform import builds
from ordersync.warehouse import Warehouse

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _run(wh: Warehouse, run_id: str, tenant_id: int, hours: int, **columns: object) -> None:
    started = T0 + timedelta(hours=hours)
    values: dict[str, object] = {
        "run_id": run_id,
        "tenant_id": tenant_id,
        "mode": "incremental",
        "status": "succeeded",
        "started_at": started,
        "wall_started_at": started,
        **columns,
    }
    wh.execute(
        f"INSERT INTO cdp.sync_runs ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
        tuple(values.values()),
    )


def _build(wh: Warehouse, hours: int, status: str, failed_tenants: str | None = None) -> None:
    started = T0 + timedelta(hours=hours)
    wh.execute(
        "INSERT INTO cdp.build_runs (command, flags, status, started_at, finished_at, seconds, worker_id, trigger, "
        "error, failed_tenants) VALUES ('build', ?, ?, ?, ?, 2.5, 'w1', 'worker', ?, ?)",
        (
            json.dumps({"full_refresh": False}),
            status,
            started,
            started + timedelta(seconds=2.5),
            "it broke" if status == "failed" else None,
            failed_tenants,
        ),
    )


def _push_tenant(wh: Warehouse, name: str) -> Tenant:
    return TenantStore(wh).add(
        name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=T0
    )


def _ids(items: list[dict[str, object]]) -> list[object]:
    return [r["run_id"] for r in items]


def test_the_run_and_build_logs_read_back_newest_first(warehouse: Warehouse) -> None:
    shop, other = _push_tenant(warehouse, "shop"), _push_tenant(warehouse, "other")
    _run(warehouse, "a-old", shop.tenant_id, 0, versions_landed=5, error="first line\nsecond line")
    _run(warehouse, "b-other", other.tenant_id, 1)
    _run(
        warehouse,
        "c-new",
        shop.tenant_id,
        2,
        status="failed",
        mode="full",
        wall_finished_at=T0 + timedelta(hours=2, seconds=3),
        discrepancies=2,
        throttle_wait_seconds=1.5,
    )

    every = runs.listed(warehouse)
    assert _ids(every) == ["c-new", "b-other", "a-old"]
    # the keys are the table's own columns (a column added later shows up here, or this fails) and the name
    table = warehouse.query_dicts("SELECT * FROM cdp.sync_runs WHERE run_id = 'c-new'")[0]
    assert tuple(table) == runs.COLUMNS and set(every[0]) == {*table, "tenant"}
    newest = every[0]
    assert (newest["tenant"], newest["tenant_id"], newest["mode"], newest["status"]) == (
        "shop",
        shop.tenant_id,
        "full",
        "failed",
    )
    assert newest["started_at"] == (T0 + timedelta(hours=2)).isoformat()
    assert datetime.fromisoformat(newest["wall_finished_at"]) == T0 + timedelta(hours=2, seconds=3)
    assert (newest["discrepancies"], newest["throttle_wait_seconds"], newest["finished_at"]) == (2, 1.5, None)
    assert every[2]["versions_landed"] == 5 and every[2]["error"] == "first line\nsecond line"
    assert _ids(runs.listed(warehouse, tenant_id=shop.tenant_id)) == ["c-new", "a-old"]
    assert _ids(runs.listed(warehouse, since=T0 + timedelta(hours=1))) == ["c-new", "b-other"]
    assert _ids(runs.listed(warehouse, tenant_id=other.tenant_id, since=T0 + timedelta(hours=2))) == []
    assert _ids(runs.listed(warehouse, limit=1)) == ["c-new"]

    left_out = json.dumps([{"tenant_id": shop.tenant_id, "tenant": "shop", "error": "bad data"}])
    _build(warehouse, 0, "succeeded", left_out)
    _build(warehouse, 2, "failed")
    _build(warehouse, 1, "succeeded")
    items = builds.recent(warehouse, 10)
    assert [(b["status"], b["started_at"]) for b in items] == [
        ("failed", (T0 + timedelta(hours=2)).isoformat()),
        ("succeeded", (T0 + timedelta(hours=1)).isoformat()),
        ("succeeded", T0.isoformat()),
    ]
    assert set(items[0]) == set(warehouse.query_dicts("SELECT * FROM cdp.build_runs")[0])
    assert items[0]["error"] == "it broke" and items[0]["failed_tenants"] == []
    assert items[2]["failed_tenants"] == [{"tenant_id": shop.tenant_id, "tenant": "shop", "error": "bad data"}]
    assert json.loads(items[2]["flags"]) == {"full_refresh": False}
    assert datetime.fromisoformat(items[2]["finished_at"]) == T0 + timedelta(seconds=2.5)
    assert [b["build_id"] for b in builds.recent(warehouse, 1)] == [items[0]["build_id"]]
    assert builds.last_build(warehouse) == items[0]
