"""Fenced leases: a run that lost its lease can neither land a row nor move a checkpoint, on both
warehouses; tokens grow at every acquisition; lease time is the warehouse's clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersync.coordination.leases import PULL, Fence, LeaseKeeper, holder_name
from ordersync.errors import LeaseLostError
from ordersync.land.records import Version, payload_hash
from ordersync.sync import checkpoints
from ordersync.warehouse import Warehouse
from support.processes import PG_LOCK_WAITERS, wait_for

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _tenant(wh: Warehouse) -> int:
    wh.execute(
        "INSERT INTO cdp.tenants (tenant_name, account, base_url, created_at) VALUES ('shop', 'shop', 'http://x', ?)",
        (NOW,),
    )
    return int(wh.scalar("SELECT tenant_id FROM cdp.tenants WHERE tenant_name = 'shop'"))


def _version(order_id: str) -> tuple[object, ...]:
    payload = f'{{"orderId": "{order_id}"}}'
    v = Version(
        order_id, NOW, NOW.date(), NOW, "invoiced", Decimal("10.00"), "BRL", "1", None, None, None, payload,
        payload_hash(payload.encode()),
    )  # fmt: skip
    return (1, v.order_id, v.event_time, NOW, v.order_date, v.creation_date, v.status, v.total_value,
            v.currency_code, v.sales_channel, v.customer_id, v.customer_email, v.customer_name, v.payload,
            v.payload_hash, "test", "run-a", None, None, None)  # fmt: skip


_SECOND = timedelta(seconds=1)


def _wait_past_lease(wh: Warehouse, tid: int) -> None:
    """Until the warehouse's clock is past the end of the tenant's lease."""
    until = wh.scalar("SELECT lease_until FROM cdp.leases WHERE tenant_id = ?", (tid,))
    wait_for(lambda: wh.now() > until, "the warehouse's clock to pass the lease's end")


def _land_fenced(wh: Warehouse, fence: Fence, tid: int, order_id: str) -> None:
    with fence.transaction(wh):
        wh.insert_landing([_version(order_id)])
        checkpoints.advance(wh, tid, "creation", NOW + timedelta(hours=1), "run-a", NOW)


def test_tokens_grow_and_a_held_lease_is_refused(warehouse: Warehouse) -> None:
    tid = _tenant(warehouse)
    a = LeaseKeeper(warehouse.fork(), holder_name("a"), ttl_seconds=30)
    b = LeaseKeeper(warehouse.fork(), holder_name("b"), ttl_seconds=30)
    first = a.acquire(tid)
    assert first is not None and first.token == 1
    assert b.acquire(tid) is None, "a live lease belongs to its holder"
    assert b.owner(tid) == a.holder
    a.release(first)
    second = b.acquire(tid)
    assert second is not None and second.token == 2, "the token survives a release and keeps growing"
    other_stream = a.acquire(tid, "feed")
    assert other_stream is not None and other_stream.token == 1, "streams lease independently"
    assert a.renew(first) is False and first.lost


def test_a_run_that_lost_its_lease_lands_nothing(warehouse: Warehouse) -> None:
    tid = _tenant(warehouse)
    stalled = LeaseKeeper(warehouse.fork(), holder_name("stalled"), ttl_seconds=30)
    successor = LeaseKeeper(warehouse.fork(), holder_name("successor"), ttl_seconds=30)
    lease = stalled.acquire(tid)
    assert lease is not None
    fence = Fence(lease, warehouse)
    _land_fenced(warehouse, fence, tid, "o-1")  # while the lease holds, writes go through

    # The run stalls past its lease: its end is now behind the warehouse's clock (running out by
    # the clock itself is test_an_expired_lease_fences_even_before_a_takeover).
    warehouse.execute("UPDATE cdp.leases SET lease_until = ? WHERE tenant_id = ?", (warehouse.now() - _SECOND, tid))
    taken = successor.acquire(tid)
    assert taken is not None and taken.token == lease.token + 1

    with pytest.raises(LeaseLostError):
        _land_fenced(warehouse, fence, tid, "o-2")
    landed = {r[0] for r in warehouse.query("SELECT order_id FROM cdp.orders_landing")}
    assert landed == {"o-1"}, "the fenced transaction was rolled back whole"
    pos = checkpoints.load(warehouse, tid)["creation"]
    assert pos == NOW + timedelta(hours=1)


def test_an_expired_lease_fences_even_before_a_takeover(warehouse: Warehouse) -> None:
    tid = _tenant(warehouse)
    keeper = LeaseKeeper(warehouse.fork(), holder_name("slow"), ttl_seconds=0.3)
    lease = keeper.acquire(tid)
    assert lease is not None
    _wait_past_lease(warehouse, tid)
    with pytest.raises(LeaseLostError):
        _land_fenced(warehouse, Fence(lease, warehouse), tid, "late")
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == 0
    assert keeper.renew(lease) is False, "an expired lease is not renewed back to life"


@pytest.mark.postgres
def test_a_takeover_waits_for_a_fenced_landing_in_flight(pg_url: str) -> None:
    """On PostgreSQL the check holds the lease row until commit: a successor cannot slip between
    the check and the commit of the landing it guards."""
    from ordersync.config import WarehouseSettings
    from ordersync.warehouse import open_warehouse
    from ordersync.warehouse.migrate import upgrade

    wh = open_warehouse(WarehouseSettings(url=pg_url))
    upgrade(wh)
    tid = _tenant(wh)
    holder = LeaseKeeper(wh.fork(), holder_name("holder"), ttl_seconds=2)
    successor = LeaseKeeper(wh.fork(), holder_name("successor"), ttl_seconds=30)
    lease = holder.acquire(tid)
    assert lease is not None
    fence = Fence(lease, wh)
    took: list[float] = []
    committed: list[float] = []

    def take_over() -> None:
        while successor.acquire(tid) is None:
            time.sleep(0.05)
        took.append(time.monotonic())

    with fence.guard(), wh.transaction():
        fence.check(wh)
        wh.insert_landing([_version("in-flight")])
        thread = threading.Thread(target=take_over)
        thread.start()
        # the lease runs out while the successor waits on its row, locked by this transaction
        watcher = wh.fork()
        try:
            _wait_past_lease(watcher, tid)
            wait_for(lambda: watcher.scalar(PG_LOCK_WAITERS), "the successor to wait on the lease's row")
        finally:
            watcher.close()
        assert not took, "the takeover went through while a fenced landing was in flight"
        committed.append(time.monotonic())
    thread.join(10)
    assert took and took[0] >= committed[0]
    assert wh.scalar("SELECT count(*) FROM cdp.orders_landing") == 1
    assert successor.owner(tid) == successor.holder
    wh.close()


def test_lease_times_are_the_warehouses_clock(warehouse: Warehouse) -> None:
    tid = _tenant(warehouse)
    keeper = LeaseKeeper(warehouse.fork(), holder_name("clock"), ttl_seconds=60)
    assert keeper.acquire(tid, PULL) is not None
    until, acquired = warehouse.query_one("SELECT lease_until, acquired_at FROM cdp.leases") or (None, None)
    assert isinstance(until, datetime) and isinstance(acquired, datetime)
    assert abs((until - acquired).total_seconds() - 60) < 1
    assert abs((acquired - warehouse.now()).total_seconds()) < 30
