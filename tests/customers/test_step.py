"""The customers step after real builds, on DuckDB and PostgreSQL: orders sharing an identifier are
one customer, each gets a profile, RFM segment and journey stage, the first computation's events
are initial, a late cancellation re-scores its customer, and a full recompute changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from factories import push_event
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.customers.step import RunKind
from ordersync.facade import Ordersync
from ordersync.outcomes import RunStatus
from ordersync.sources.push.bodies import json_items

pytestmark = [pytest.mark.dbt]

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    overrides = {
        "warehouse": {"url": warehouse_url},
        "dbt": {"state_dir": str(tmp_path / "dbt")},
        "customers": {"enabled": True},
    }
    with Ordersync(load_settings(overrides=overrides), clock=ManualClock(NOW)) as app:
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        yield app


def order(
    order_id: str, days_ago: int, value: str, status: str = "invoiced", changed: datetime | None = None, **customer: Any
) -> bytes:
    at = NOW - timedelta(days=days_ago)
    stamp = at.isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        push_event(
            order_id,
            creation_date=stamp,
            event_time=(changed or at + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
            status=status,
            total_value=value,
            customer=customer,
        )
    )


def push(app: Ordersync, records: list[bytes]) -> None:
    body = b"[" + b",".join(records) + b"]"
    answer = app.push_receiver().receive(app.tenants.get("shop"), json_items(body), idempotency_key=None, request=body)
    assert answer.body["landed"] == len(records), answer.body


def customers(app: Ordersync) -> dict[str, dict[str, Any]]:
    return {r["customer_key"]: r for r in app.list_customers("shop")}


def test_orders_become_scored_customers_and_a_late_cancellation_rescores_one(app: Ordersync) -> None:
    records = [
        # ana: a platform id, then a guest order with her email in another case
        order("A-1", 200, "100.00", id="u-ana", email="ana@example.com"),
        order("A-2", 20, "50.00", email="ANA@Example.com "),
        # bia: two orders a day apart, one valid document
        order("B-1", 3, "80.00", id="u-bia", document="529.982.247-25", document_type="cpf"),
        order("B-2", 2, "70.00", document="52998224725", document_type="cpf"),
        # cai: a guest with nothing to tie him to anyone
        order("C-1", 400, "30.00"),
    ]
    push(app, records)
    app.build()
    found = customers(app)
    assert len(found) == 3
    by_orders = {k: app.show_customer("shop", key=k) for k in found}
    order_sets = sorted(sorted(o["order_id"] for o in c["orders"]) for c in by_orders.values())
    assert order_sets == [["A-1", "A-2"], ["B-1", "B-2"], ["C-1"]]
    ana = next(c for c in by_orders.values() if c["orders"][0]["order_id"] == "A-1")
    assert ana["purchases"] == 2 and str(ana["net_revenue"]) == "150.00"
    assert all("@" not in i or "*" in i for i in ana["identifiers"])  # shown masked
    bia_key = next(k for k, c in by_orders.items() if c["orders"][0]["order_id"] == "B-1")
    assert found[bia_key]["stage"] == "active" and found[bia_key]["segment"] is not None
    cai = next(c for c in by_orders.values() if c["orders"][0]["order_id"] == "C-1")
    assert cai["stage"] == "lapsed"
    events = app.customer_events("shop")
    assert events and all(e["initial"] for e in events)
    assert all(e["customer_key"].startswith("cus_") for e in events)

    # a late cancellation of bia's newer order: she is re-scored, the others are not touched
    before = {k: (c["purchases"], c["net_revenue"]) for k, c in found.items()}
    push(app, [order("B-2", 2, "70.00", status="canceled", changed=NOW, document="52998224725", document_type="cpf")])
    app.build()
    after = customers(app)
    assert after[bia_key]["purchases"] == 1 and str(after[bia_key]["net_revenue"]) == "80.00"
    assert {k: (c["purchases"], c["net_revenue"]) for k, c in after.items() if k != bia_key} == {
        k: v for k, v in before.items() if k != bia_key
    }
    later = [e for e in app.customer_events("shop") if not e["initial"]]
    assert later and {e["customer_key"] for e in later} == {bia_key}

    # a full recompute with the same date and parameters changes nothing
    (run,) = app.keep_customers(RunKind.FULL, "shop")
    assert run.status is RunStatus.SUCCEEDED and run.findings == {"changed_rows": 0, "ok": True}
