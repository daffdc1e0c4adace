"""Idempotency-Key across connections and processes: the key is claimed inside the landing
transaction, so two requests with one key land once (the other gets the first answer or 409), and
keys expire after [serve] idempotency_hours."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from factories import push_event_json
from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.land.lander import Lander
from ordersync.sources.push.bodies import json_items
from ordersync.sources.push.receiver import PushAnswer, PushReceiver
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse, open_warehouse
from support.processes import wait_for


def push_tenant(wh: Warehouse, clock: ManualClock) -> Tenant:
    return TenantStore(wh).add(
        "shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )


def body_of(*order_ids: str) -> bytes:
    events = [
        push_event_json(o, event_time="2026-01-01T10:00:00Z", creation_date="2026-01-01T09:00:00Z") for o in order_ids
    ]
    return b"[" + b",".join(events) + b"]"


def send(receiver: PushReceiver, tenant: Tenant, body: bytes, key: str) -> PushAnswer:
    return receiver.receive(tenant, json_items(body), idempotency_key=key, request=body)


def landed_orders(wh: Warehouse, tenant: Tenant) -> list[str]:
    rows = wh.query(
        "SELECT order_id FROM cdp.orders_landing WHERE tenant_id = ? ORDER BY order_id", (tenant.tenant_id,)
    )
    return [str(r[0]) for r in rows]


def keys(wh: Warehouse, tenant: Tenant) -> list[str]:
    rows = wh.query(
        "SELECT idem_key FROM cdp.idempotency_keys WHERE tenant_id = ? ORDER BY idem_key", (tenant.tenant_id,)
    )
    return [str(r[0]) for r in rows]


def test_a_retry_gets_the_first_answer_and_another_body_409(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    receiver = PushReceiver(warehouse, clock)
    first = send(receiver, tenant, body_of("A-1"), "k")
    assert (first.status, first.body["landed"], first.replayed) == (200, 1, False)
    again = send(receiver, tenant, body_of("A-1"), "k")
    assert (again.status, again.body, again.replayed) == (200, first.body, True)
    other = send(receiver, tenant, body_of("B-1"), "k")
    assert other.status == 409 and "different body" in other.body["detail"]
    assert landed_orders(warehouse, tenant) == ["A-1"]


def test_an_expired_key_is_new_again_and_expired_keys_are_purged(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    receiver = PushReceiver(warehouse, clock, idempotency_hours=2)
    for key in ("old-1", "old-2", "k"):
        assert send(receiver, tenant, body_of(f"{key}-order"), key).status == 200
    clock.advance(timedelta(hours=1))
    assert send(receiver, tenant, body_of("B-1"), "k").status == 409  # not yet expired
    clock.advance(timedelta(hours=1, seconds=1))
    reused = send(receiver, tenant, body_of("B-1"), "k")
    assert (reused.status, reused.body["landed"], reused.replayed) == (200, 1, False)
    assert send(receiver, tenant, body_of("B-1"), "k").replayed  # the new answer is the one kept
    assert send(receiver, tenant, body_of("old-1-order"), "k").status == 409
    assert send(receiver, tenant, body_of("C-1"), "fresh").status == 200
    assert keys(warehouse, tenant) == ["fresh", "k"]  # the expired ones were purged by the new claims
    assert landed_orders(warehouse, tenant) == ["B-1", "C-1", "k-order", "old-1-order", "old-2-order"]


# -- PostgreSQL: two connections at once --------------------------------------------------------------


@pytest.fixture
def pg_pair(pg_url: str) -> Iterator[tuple[Warehouse, Warehouse]]:
    one = open_warehouse(WarehouseSettings(url=pg_url))
    two = open_warehouse(WarehouseSettings(url=pg_url))
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def _waiting(url: str, query: str) -> int:
    """Sessions waiting on a lock while running `query` (a LIKE pattern)."""
    # its own connection: pg_stat_activity is read once per transaction
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            [query],
        ).fetchone()
    return int(row[0]) if row else 0


def _in_thread(fn: Callable[[], PushAnswer], out: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # checked by the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.parametrize("same_body", [False, True], ids=["other-body", "same-body"])
def test_a_second_request_with_the_key_waits_for_the_first_then_answers_from_it(
    pg_url: str,
    pg_pair: tuple[Warehouse, Warehouse],
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    same_body: bool,
) -> None:
    one, two = pg_pair
    tenant = push_tenant(one, clock)
    first_body = body_of("A-1", "A-2")
    second_body = first_body if same_body else body_of("B-1")
    # The first request stops inside its landing transaction (the key claimed, nothing committed)
    # until the second is seen waiting for it.
    inside, go_on = threading.Event(), threading.Event()
    land = Lander.land

    def paused(self: Lander, *args: Any, **kwargs: Any) -> int:
        if self.wh is one:
            inside.set()
            assert go_on.wait(120), "the test never let the first request go on"
        return land(self, *args, **kwargs)

    monkeypatch.setattr(Lander, "land", paused)
    firsts: list[Any] = []
    seconds: list[Any] = []
    t1 = _in_thread(lambda: send(PushReceiver(one, clock), tenant, first_body, "k"), firsts)
    assert inside.wait(120), "the first request never reached its landing"
    t2 = _in_thread(lambda: send(PushReceiver(two, clock), tenant, second_body, "k"), seconds)
    wait_for(lambda: _waiting(pg_url, "INSERT INTO cdp.idempotency_keys%"), "the second request to wait on the key")
    go_on.set()
    t1.join(120)
    t2.join(120)
    [first], [second] = firsts, seconds
    assert isinstance(first, PushAnswer) and isinstance(second, PushAnswer), (first, second)
    assert (first.status, first.body["landed"], first.replayed) == (200, 2, False)
    if same_body:
        assert (second.status, second.body, second.replayed) == (200, first.body, True)
    else:
        assert second.status == 409
    monkeypatch.setattr(Lander, "land", land)
    retry = send(PushReceiver(two, clock), tenant, first_body, "k")
    assert (retry.status, retry.body, retry.replayed) == (200, first.body, True)
    assert landed_orders(one, tenant) == ["A-1", "A-2"]


def _send_at(
    start: threading.Barrier, wh: Warehouse, clock: ManualClock, tenant: Tenant, body: bytes, key: str
) -> PushAnswer:
    receiver = PushReceiver(wh, clock)
    start.wait(60)
    return send(receiver, tenant, body, key)


@pytest.mark.parametrize("same_body", [False, True], ids=["other-body", "same-body"])
def test_on_duckdb_the_later_commit_with_the_key_fails_and_answers_from_the_first(
    tmp_path: Path, duckdb_template: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, same_body: bool
) -> None:
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, path)
    one = open_warehouse(WarehouseSettings(url=str(path)))
    two = one.fork()  # another connection of this process (DuckDB allows one writing process)
    try:
        tenant = push_tenant(one, clock)
        first_body = body_of("A-1")
        later_body = first_body if same_body else body_of("B-1", "B-2")
        inside, go_on = threading.Event(), threading.Event()
        land = Lander.land

        def paused(self: Lander, *args: Any, **kwargs: Any) -> int:
            if self.wh is one:
                inside.set()
                assert go_on.wait(120), "the test never let the request go on"
            return land(self, *args, **kwargs)

        monkeypatch.setattr(Lander, "land", paused)
        laters: list[Any] = []
        # this one claims the key first, then stops before landing; the other commits meanwhile
        thread = _in_thread(lambda: send(PushReceiver(one, clock), tenant, later_body, "k"), laters)
        assert inside.wait(120), "the request never reached its landing"
        first = send(PushReceiver(two, clock), tenant, first_body, "k")
        assert (first.status, first.body["landed"]) == (200, 1)
        go_on.set()
        thread.join(120)
        [later] = laters
        assert isinstance(later, PushAnswer), later
        if same_body:
            assert (later.status, later.body, later.replayed) == (200, first.body, True)
        else:
            assert later.status == 409
        assert landed_orders(two, tenant) == ["A-1"]
    finally:
        two.close()
        one.close()


@pytest.mark.postgres
def test_two_requests_racing_with_one_key_and_two_bodies_land_once(
    pg_pair: tuple[Warehouse, Warehouse], clock: ManualClock
) -> None:
    one, two = pg_pair
    tenant = push_tenant(one, clock)
    rounds = 8
    for n in range(rounds):
        bodies = (body_of(f"R{n}-a"), body_of(f"R{n}-b"))
        start = threading.Barrier(2)
        answers: list[list[Any]] = [[], []]

        threads = [
            _in_thread(lambda b=body, wh=wh, key=f"key-{n}", s=start: _send_at(s, wh, clock, tenant, b, key), out)
            for body, wh, out in zip(bodies, (one, two), answers, strict=True)
        ]
        for t in threads:
            t.join(120)
        [a], [b] = answers
        assert isinstance(a, PushAnswer) and isinstance(b, PushAnswer), (a, b)
        assert sorted((a.status, b.status)) == [200, 409], (a, b)
        winner = 0 if a.status == 200 else 1
        retry = send(PushReceiver(one, clock), tenant, bodies[winner], f"key-{n}")
        assert (retry.status, retry.replayed, retry.body["landed"]) == (200, True, 1)
    landed = landed_orders(one, tenant)
    assert len(landed) == rounds and len({o.split("-")[0] for o in landed}) == rounds


@pytest.mark.postgres
def test_a_purge_keeps_an_expired_key_that_another_request_is_taking_over(
    pg_url: str, pg_pair: tuple[Warehouse, Warehouse], clock: ManualClock
) -> None:
    one, two = pg_pair
    tenant = push_tenant(one, clock)
    receiver = PushReceiver(one, clock, idempotency_hours=1)
    assert send(receiver, tenant, body_of("A-1"), "k").status == 200
    clock.advance(timedelta(hours=2))
    expired_before = clock.now() - timedelta(hours=1)
    purged: list[Any] = []
    with one.transaction():
        assert receiver._claim(tenant.tenant_id, "k", "new-hash", clock.now(), expired_before)
        purger = PushReceiver(two, clock, idempotency_hours=1)
        thread = threading.Thread(target=lambda: purged.append(purger._purge(tenant.tenant_id, expired_before)))
        thread.start()
        wait_for(lambda: _waiting(pg_url, "DELETE FROM cdp.idempotency_keys%"), "the purge to wait for the claim")
    thread.join(120)
    assert purged == [None]
    assert one.scalar("SELECT request_hash FROM cdp.idempotency_keys WHERE idem_key = 'k'") == "new-hash"
