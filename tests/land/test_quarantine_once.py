"""A batch's bad items are written in one statement, and the same bad bytes are quarantined once per
tenant, however often they are sent (both warehouses; PostgreSQL with two writers at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.land.intake import Intake, Item, prepare
from ordersync.land.lander import Lander, quarantine_row
from ordersync.land.quarantine import quarantined_raw
from ordersync.sources.push.bodies import json_items
from ordersync.sources.push.events import item_order_id, parse_pushed
from ordersync.sources.push.receiver import PushReceiver
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse, open_warehouse
from support.processes import wait_for


def _tenant(wh: Warehouse, clock: ManualClock, name: str = "shop") -> Tenant:
    return TenantStore(wh).add(
        name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )


def _rows(wh: Warehouse, tenant: Tenant) -> list[tuple[int, str, bytes]]:
    rows = wh.query(
        "SELECT quarantine_id, reason FROM cdp.quarantine WHERE tenant_id = ? ORDER BY quarantine_id",
        (tenant.tenant_id,),
    )
    return [(int(q), str(reason), quarantined_raw(wh, int(q))) for q, reason in rows]


def test_ten_thousand_identical_bad_items_are_one_row_and_sending_them_again_adds_none(
    warehouse: Warehouse, clock: ManualClock
) -> None:
    tenant = _tenant(warehouse, clock)
    body = b"[" + b",".join([b"0"] * 10_000) + b"]"
    receiver = PushReceiver(warehouse, clock)
    for _ in range(2):
        answer = receiver.receive(tenant, json_items(body), idempotency_key=None, request=body)
        assert (answer.status, answer.body["received"], answer.body["quarantined"]) == (200, 10_000, 10_000)
        [(_, reason, raw)] = _rows(warehouse, tenant)
        assert raw == b"0" and "not an order object" in reason, reason


def test_distinct_bad_items_are_kept_in_the_order_they_came_each_once(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = _tenant(warehouse, clock)
    sent = [str(i).encode() for i in (7, 3, 9, 3, 1, 7)]
    batch = prepare(
        tenant.tenant_id, tenant.tz, [Item(r) for r in sent], "push", "run-1", parse=parse_pushed,
        order_id_of=item_order_id,
    )  # fmt: skip
    assert len(batch.errors) == 6 and len(batch.quarantine) == 4
    result = Intake(warehouse, clock).write(batch)
    assert result.quarantined == 6
    assert [raw for _, _, raw in _rows(warehouse, tenant)] == [b"7", b"3", b"9", b"1"]
    # another batch holding some of the same bytes adds only the new ones
    Intake(warehouse, clock).land_items(
        tenant.tenant_id, tenant.tz, [Item(b"9"), Item(b"2")], "push", parse=parse_pushed, order_id_of=item_order_id
    )
    assert [raw for _, _, raw in _rows(warehouse, tenant)] == [b"7", b"3", b"9", b"1", b"2"]


def test_the_same_bytes_are_per_tenant(warehouse: Warehouse, clock: ManualClock) -> None:
    a, b = _tenant(warehouse, clock, "shop-a"), _tenant(warehouse, clock, "shop-b")
    lander = Lander(warehouse, clock)
    with warehouse.transaction():
        assert lander.quarantine(a.tenant_id, b"{}", "no order id", "push", None)
        assert not lander.quarantine(a.tenant_id, b"{}", "no order id", "file", None)
        assert lander.quarantine(b.tenant_id, b"{}", "no order id", "push", None)
    assert len(_rows(warehouse, a)) == len(_rows(warehouse, b)) == 1


def test_large_records_are_written_in_several_statements_and_kept_whole(
    warehouse: Warehouse, clock: ManualClock
) -> None:
    tenant = _tenant(warehouse, clock)
    big = [b'{"pad": "' + bytes([65 + i]) * 700_000 + b'"}' for i in range(3)]
    rows = [quarantine_row(r, f"record {i} is bad") for i, r in enumerate(big)]
    with warehouse.transaction():
        assert Lander(warehouse, clock).quarantine_rows(tenant.tenant_id, rows, "push", None) == 3
    assert [(reason, raw) for _, reason, raw in _rows(warehouse, tenant)] == [
        (f"record {i} is bad", r) for i, r in enumerate(big)
    ]


def _waiting_inserts(url: str) -> int:
    # its own connection: pg_stat_activity is read once per transaction
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO cdp.quarantine%'"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def second(pg_url: str) -> Iterator[Warehouse]:
    wh = open_warehouse(WarehouseSettings(url=pg_url))
    try:
        yield wh
    finally:
        wh.close()


@pytest.mark.postgres
def test_two_writers_quarantining_the_same_bytes_at_once_keep_one_row(
    pg_url: str, second: Warehouse, clock: ManualClock
) -> None:
    first = open_warehouse(WarehouseSettings(url=pg_url))
    try:
        tenant = _tenant(first, clock)
        rows = [quarantine_row(r, "bad") for r in (b"1", b"2", b"3")]
        written: list[int] = []
        errors: list[BaseException] = []

        def other() -> None:
            try:
                with second.transaction():
                    written.append(Lander(second, clock).quarantine_rows(tenant.tenant_id, rows[::-1], "push", None))
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        with first.transaction():
            assert Lander(first, clock).quarantine_rows(tenant.tenant_id, rows, "push", None) == 3
            thread = threading.Thread(target=other)
            thread.start()
            # the second writer waits on the unique index for this transaction
            wait_for(lambda: _waiting_inserts(pg_url), "the second writer to wait for the first")
        thread.join(timeout=120)
        assert not thread.is_alive() and not errors, errors
        assert written == [0]
        assert sorted(raw for _, _, raw in _rows(first, tenant)) == [b"1", b"2", b"3"]
    finally:
        first.close()


def test_prepare_parses_the_same_bytes_once_and_still_names_each_item() -> None:
    items = [Item(b"0", where="f.ndjson line 1"), Item(b"0", where="f.ndjson line 2"), Item(b"[1]")]
    batch = prepare(1, ZoneInfo("UTC"), items, "file", None, parse=parse_pushed, order_id_of=item_order_id)
    assert [e.index for e in batch.errors] == [0, 1, 2]
    assert [e.reason.split(":")[0] for e in batch.errors[:2]] == ["f.ndjson line 1", "f.ndjson line 2"]
    assert batch.errors[0].reason.removeprefix("f.ndjson line 1") == batch.errors[1].reason.removeprefix(
        "f.ndjson line 2"
    )
    assert [(r.raw, r.reason) for r in batch.quarantine] == [
        ("0", batch.errors[0].reason),
        ("[1]", batch.errors[2].reason),
    ]
    assert (batch.received, batch.parsed, batch.versions) == (3, 0, ())
