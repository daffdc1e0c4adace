"""One tenant's work never queues another's: health and hook answers while a build holds the
warehouse, a push that lands while another tenant's huge bad push is being written, and the
per-token budget."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from factories import push_event
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import Serve, ServeOptions, serving_in_thread
from ordersync.sources.vtex.hook import SECRET_HEADER
from support.processes import wait_for
from support.sim import settings_for

pytestmark = pytest.mark.integration

#: 10,000 items that are all bad: 20 KB of body, 10,000 quarantine rows
BAD_BODY = b"[" + b",".join([b"0"] * 10_000) + b"]"


@dataclass
class Running:
    url: str
    serve: Serve
    token: str
    other_token: str
    hook_secret: str
    warehouse_url: str
    tmp: Path

    def push(self, body: bytes | list[Any], token: str, tenant: str, **headers: str) -> httpx.Response:
        data = json.dumps(body).encode() if isinstance(body, list) else body
        h = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", **headers}
        return httpx.post(f"{self.url}/v1/tenants/{tenant}/orders", content=data, headers=h, timeout=60)

    def hook(self, secret: str) -> httpx.Response:
        body = json.dumps({"OrderId": "H-1", "State": "invoiced", "LastChange": "2026-12-01T10:00:00Z"})
        headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
        return httpx.post(f"{self.url}/v1/hooks/vtex/other", content=body, headers=headers, timeout=60)

    def landed(self, tenant: str) -> int:
        with Ordersync(settings_for(self.warehouse_url, self.tmp)) as app:
            tid = app.tenants.get(tenant).tenant_id
            return int(app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE tenant_id = ?", (tid,)) or 0)


def running(warehouse_url: str, tmp_path: Path, **serve: Any) -> Iterator[Running]:
    setup = Ordersync(settings_for(warehouse_url, tmp_path))
    for name in ("app", "other"):
        setup.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    _, token = setup.create_token("app")
    _, other = setup.create_token("other")
    secret = setup.new_hook_secret("other")
    setup.close()
    app = Ordersync(settings_for(warehouse_url, tmp_path))
    options = ServeOptions(ServeSettings(port=0, **{"build_every_seconds": 3600, **serve}), worker=False)
    with serving_in_thread(app, options) as (url, s):
        yield Running(url, s, token, other, secret, warehouse_url, tmp_path)


@pytest.fixture
def served(warehouse_url: str, tmp_path: Path) -> Iterator[Running]:
    yield from running(warehouse_url, tmp_path)


def health(s: Running) -> dict[str, Any]:
    r = httpx.get(f"{s.url}/v1/health", timeout=60)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


@pytest.fixture
def building_at_once(warehouse_url: str, tmp_path: Path) -> Iterator[Running]:
    yield from running(warehouse_url, tmp_path, build_every_seconds=0)


def test_health_hooks_and_pushes_answer_while_a_build_runs(
    building_at_once: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build runs on serve's builder facade under the build lock alone, never the gate's (on
    DuckDB dbt joins serve's database instance: transform/test_build_beside_writes.py): health,
    the hook's secret check and every tenant's pushes answer while it runs."""
    building, finish = threading.Event(), threading.Event()
    served = building_at_once
    s = served.serve
    builds: list[None] = []

    def build(*args: Any, **kwargs: Any) -> None:
        building.set()
        assert finish.wait(120), "the test never let the build finish"
        builds.append(None)

    monkeypatch.setattr(s.builder, "build", build)
    assert served.push([push_event("B-1")], served.token, "app").json()["landed"] == 1
    wait_for(building.is_set, "serve's builder to start a build after the push")
    try:
        assert s.build_lock.locked(), "the build holds the build lock"
        assert health(served) == {
            "status": "ok",
            "warehouse": "reachable",
            "schema_version": s.gate.vitals.schema_version,
            "worker_alive": None,
        }
        assert served.hook(served.hook_secret).status_code == 200
        assert served.hook("not the secret").status_code == 401
        assert served.push([push_event("B-2")], served.other_token, "other").json()["landed"] == 1
        assert served.push([push_event("B-3")], served.token, "app").json()["landed"] == 1
        assert not builds, "the pushes landed while the build ran"
    finally:
        finish.set()
    wait_for(lambda: len(builds) == 2, "the build after the pushes made during the first")  # none left for dbt


@pytest.mark.postgres
def test_a_push_lands_while_another_tenants_huge_bad_push_is_being_written(pg_url: str, tmp_path: Path) -> None:
    """Tenant app's 10,000-bad-item push is held inside its landing transaction (this test holds
    the row its Idempotency-Key needs); tenant other's push lands meanwhile, health answers."""
    for s in running(pg_url, tmp_path):
        with psycopg.connect(pg_url) as blocker:
            tid = blocker.execute("SELECT tenant_id FROM cdp.tenants WHERE tenant_name = 'app'").fetchone()
            assert tid is not None
            blocker.execute(
                "INSERT INTO cdp.idempotency_keys (tenant_id, idem_key, request_hash, status_code, response, "
                "created_at) VALUES (%s, 'held', 'x', 200, '{}', now())",
                (tid[0],),
            )
            with ThreadPoolExecutor(1) as pool:
                huge = pool.submit(s.push, BAD_BODY, s.token, "app", **{"Idempotency-Key": "held"})
                wait_for(lambda: _waiting_on_a_lock(pg_url), "the bad push to wait inside its transaction")
                assert not huge.done()
                assert s.push([push_event("C-1")], s.other_token, "other").json()["landed"] == 1
                assert health(s)["status"] == "ok"
                assert s.hook(s.hook_secret).status_code == 200
                blocker.rollback()
                answer = huge.result(timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.json()["quarantined"] == 10_000 and answer.json()["landed"] == 0
        assert s.landed("other") == 1


def _waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def budgeted(warehouse_url: str, tmp_path: Path) -> Iterator[Running]:
    yield from running(warehouse_url, tmp_path, max_items_per_minute=5)


def test_a_token_past_its_items_a_minute_gets_429_and_lands_nothing(budgeted: Running) -> None:
    s = budgeted
    assert s.push([push_event(f"D-{i}") for i in range(3)], s.token, "app").json()["landed"] == 3
    over = s.push([push_event(f"E-{i}") for i in range(3)], s.token, "app")
    assert over.status_code == 429, over.text
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert "5 items a minute" in over.json()["detail"] and "max_items_per_minute" in over.json()["detail"]
    assert s.landed("app") == 3
    # until the refused batch would fit, the token's requests are refused before their body is
    # read: a body that is not even JSON gets 429, not 400
    unread = s.push(b"not json at all", s.token, "app")
    assert unread.status_code == 429, unread.text
    assert "the batch it last sent" in unread.json()["detail"] and 1 <= int(unread.headers["Retry-After"]) <= 60
    assert s.landed("app") == 3
    # another token keeps its own budget
    assert s.push([push_event("F-1")], s.other_token, "other").json()["landed"] == 1
    too_big = s.push([push_event(f"G-{i}") for i in range(6)], s.other_token, "other")
    assert too_big.status_code == 429 and "smaller batches" in too_big.json()["detail"]
    assert s.landed("other") == 1


def test_a_token_with_its_own_budget_keeps_it_and_a_change_applies_at_its_next_push(budgeted: Running) -> None:
    s = budgeted  # the server's budget: 5 items a minute
    with Ordersync(settings_for(s.warehouse_url, s.tmp)) as app:
        token_id, integration = app.create_token("app", "backend", max_items_per_minute=8)
    assert s.push([push_event(f"I-{i}") for i in range(7)], integration, "app").json()["landed"] == 7
    with Ordersync(settings_for(s.warehouse_url, s.tmp)) as app:
        assert app.set_token_budget(token_id, 600).max_items_per_minute == 600
        assert app.list_tokens("app")[-1].public()["max_items_per_minute"] == 600
    # the bucket keeps its share (about 1 of 8 left: 75 of 600) at the new budget. A bucket refilled to
    # the whole 600 would take the 500 too; kept, it would take them only after some 45 s of refill
    # (600 a minute), far more than a loaded machine takes between two pushes.
    assert s.push([push_event(f"K-{i}") for i in range(70)], integration, "app").json()["landed"] == 70
    over = s.push([push_event(f"J-{i}") for i in range(500)], integration, "app")
    assert over.status_code == 429 and "600 items a minute" in over.json()["detail"], over.text
    # held until the refused batch would fit: refused unread, naming the token's own budget
    assert "600 items a minute" in s.push(b"unread", integration, "app").json()["detail"]
    with Ordersync(settings_for(s.warehouse_url, s.tmp)) as app:
        assert app.set_token_budget(token_id, None).max_items_per_minute is None
    assert s.landed("app") == 77
