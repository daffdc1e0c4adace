"""The seed's verification and every way in converging: a seeded late-event stream (the mobile
SDK's, fixed seed) pushed over HTTP, ingested as hourly files, and pushed again as gzip JSON in
reverse order with stale versions; each reconciles against the SDK's own truth after one build.
Mixing pull and push for the same orders converges to the store's truth too."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ordersync.aio import run_async
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig, start_in_thread
from ordersync.simulator.sdk import SdkConfig, Stream, generate, push, write_files
from ordersync.web.server import ServeOptions, serving_in_thread
from support.sim import register, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.dbt]
SEEDED = SdkConfig(
    orders_per_day=40,
    days=3,
    seed=2026,
    late_share=0.1,
    max_delay_hours=48,
    duplicate_rate=0.02,
    start=datetime(2026, 11, 1, tzinfo=UTC),
)


def fct(app: Ordersync, tenant: str) -> dict[str, tuple[str, Decimal]]:
    tid = app.tenants.get(tenant).tenant_id
    rows = app.wh.query("SELECT order_id, status, total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tid,))
    return {r[0]: (r[1], Decimal(r[2])) for r in rows}


def truth(stream: Stream) -> dict[str, tuple[str, Decimal]]:
    return {oid: (o["status"], Decimal(o["total_value"])) for oid, o in stream.truth.items()}


def push_tenant(app: Ordersync, name: str) -> str:
    app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    return app.create_token(name)[1]


def test_the_seeded_late_stream_reconciles_pushed_ingested_and_replayed(warehouse_url: str, tmp_path: Path) -> None:
    stream = generate(SEEDED)
    summary = stream.summary()
    assert summary["late_events"] > 0 and summary["duplicates"] > 0
    app = Ordersync(settings_for(warehouse_url, tmp_path))
    token = push_tenant(app, "pushed")
    replay_token = push_tenant(app, "replayed")
    push_tenant(app, "files")
    files = write_files(stream, tmp_path / "hourly")
    results = app.ingest_files("files", files)
    assert sum(r.landed for r in results) == summary["events"]
    assert all(r.landed == 0 for r in app.ingest_files("files", files[:2]))  # a file twice lands nothing
    with serving_in_thread(app, ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)) as (
        url,
        _,
    ):
        totals = run_async(push(stream, url, "pushed", token))
        assert (totals.landed, totals.duplicates, totals.quarantined) == (
            summary["events"],
            summary["duplicates"],
            0,
        )
        # the same events newest first, as gzip JSON arrays, with a stale copy of each order (its
        # creation snapshot stamped an hour before its first event) mixed in
        lines = [orjson.loads(e.line) for e in reversed(stream.events)]
        stale = []
        for o in stream.truth.values():
            old = dict(o, status="order-created", event_time="2026-10-31T00:00:00+00:00")
            stale.append(old)
        items: list[Any] = lines + stale
        random.Random(1).shuffle(items)
        for i in range(0, len(items), 500):
            body = gzip.compress(orjson.dumps(items[i : i + 500]))
            r = httpx.post(
                f"{url}/v1/tenants/replayed/orders",
                content=body,
                headers={
                    "Authorization": f"Bearer {replay_token}",
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                },
                timeout=60,
            )
            assert r.status_code == 200 and r.json()["quarantined"] == 0
    result = app.build()
    assert result.ok  # dbt build passes, its tests included
    want = truth(stream)
    for tenant in ("pushed", "files", "replayed"):
        held = fct(app, tenant)
        assert held == want, tenant
        revenue = sum((v for s, v in held.values() if s != "canceled"), Decimal("0.00"))
        assert str(revenue) == summary["total_value"]
    app.close()


def test_pull_and_push_for_the_same_orders_converge(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(
        port=0,
        seed=9,
        accounts=[AccountSpec("store1", 25)],
        days=2,
        start=datetime(2026, 11, 20, tzinfo=UTC),
        speed=0.0,
        index_lag_seconds=0,
    )
    with start_in_thread(config) as sim:
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        register(app, sim, ["store1"], config.app_key, config.app_token)
        _, token = app.create_token("store1")
        headers = {"X-VTEX-API-AppKey": config.app_key, "X-VTEX-API-AppToken": config.app_token}
        ids = [o["orderId"] for o in sim.truth("store1")]
        bodies = [
            httpx.get(f"{sim.base_url('store1')}/api/oms/pvt/orders/{oid}", headers=headers).json() for oid in ids
        ]
        # older versions of the same orders, pushed before and after the pull
        stale = [dict(b, status="payment-pending", lastChange="2020-01-01T00:00:00.0000000+00:00") for b in bodies]
        with serving_in_thread(app, ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)) as (
            url,
            _,
        ):
            auth = {"Authorization": f"Bearer {token}"}
            first = httpx.post(f"{url}/v1/tenants/store1/orders", json=stale[: len(stale) // 2], headers=auth)
            assert first.json()["landed"] == len(stale) // 2
        report = app.sync(["store1"], build=False)
        assert report.ok
        with serving_in_thread(app, ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)) as (
            url,
            _,
        ):
            r = httpx.post(f"{url}/v1/tenants/store1/orders", json=stale[len(stale) // 2 :] + bodies, headers=auth)
            assert r.status_code == 200
        assert app.build().ok
        want = {o["orderId"]: (o["status"], Decimal(o["value"]) / 100) for o in sim.truth("store1")}
        assert fct(app, "store1") == want
        app.close()
