"""A push's answer, and its stored copy for Idempotency-Key replays, name at most the first 100 bad
items and count the rest, however many a batch holds (both warehouses)."""

from __future__ import annotations

import json

from factories import push_event_json
from ordersync.clock import ManualClock
from ordersync.land.intake import MAX_ANSWER_ERRORS
from ordersync.sources.push.bodies import json_items
from ordersync.sources.push.receiver import PushReceiver
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse


def push_tenant(wh: Warehouse, clock: ManualClock, name: str = "shop") -> Tenant:
    return TenantStore(wh).add(
        name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )


def test_an_answer_names_the_first_100_errors_and_counts_the_rest(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    good = push_event_json("A-1", event_time="2026-01-01T10:00:00Z", creation_date="2026-01-01T09:00:00Z")
    body = b"[" + good + b"," + b",".join(str(i).encode() for i in range(5_000)) + b"]"
    receiver = PushReceiver(warehouse, clock)
    answer = receiver.receive(tenant, json_items(body), idempotency_key="k-1", request=body)
    assert answer.status == 200
    body_out = answer.body
    assert (body_out["received"], body_out["landed"], body_out["quarantined"]) == (5_001, 1, 5_000)
    assert [e["index"] for e in body_out["errors"]] == list(range(1, MAX_ANSWER_ERRORS + 1))
    assert body_out["errors_omitted"] == 5_000 - MAX_ANSWER_ERRORS
    stored = warehouse.scalar(
        "SELECT response FROM cdp.idempotency_keys WHERE tenant_id = ? AND idem_key = ?", (tenant.tenant_id, "k-1")
    )
    assert json.loads(stored) == body_out
    assert len(stored) < 20_000
    again = receiver.receive(tenant, json_items(body), idempotency_key="k-1", request=body)
    assert (again.status, again.body, again.replayed) == (200, body_out, True)


def test_a_clean_answer_omits_nothing(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    good = push_event_json("A-1", event_time="2026-01-01T10:00:00Z", creation_date="2026-01-01T09:00:00Z")
    body = b"[" + good + b", 0]"
    answer = PushReceiver(warehouse, clock).receive(tenant, json_items(body), idempotency_key=None, request=body)
    assert answer.body["errors_omitted"] == 0 and [e["index"] for e in answer.body["errors"]] == [1]
