"""Identical versions are stored once when several writers land them at the same moment.

DuckDB: four cursors of one process (fork()); PostgreSQL: four connections. Each writer opens its
transaction by reading another table first, as the sync engine (quarantine) and file landing do, so a
transaction's snapshot is older than the other writers' commits.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import upgrade
from support.processes import PG_LOCK_WAITERS, wait_for
from support.properties import examples

RowFactory = Callable[..., tuple[object, ...]]
WRITERS = 4
VERSIONS = 200


def _land_at_once(warehouse: Warehouse, rows: list[tuple[object, ...]], modes: list[str], seed: int) -> list[int]:
    """Every writer lands all `rows` (each in its own order) at the same moment; their counts."""
    writers = [warehouse.fork() for _ in modes]
    floors = [w.max_landing_id() for w in writers]  # what the engine reads before its lookup
    barrier = threading.Barrier(len(modes), timeout=30)
    counts: list[int] = [0] * len(modes)
    errors: list[BaseException] = []

    def land(i: int) -> None:
        mine = list(rows)
        random.Random(seed * 31 + i).shuffle(mine)
        w = writers[i]
        try:
            barrier.wait()
            with w.transaction():
                w.scalar("SELECT count(*) FROM cdp.tenants")  # the snapshot starts here
                if modes[i] == "known_new":
                    counts[i] = w.insert_landing(mine, known_new=True, checked_after=floors[i])
                elif modes[i] == "append":
                    counts[i] = w.insert_landing(mine, known_new=True)
                else:
                    counts[i] = w.insert_landing(mine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=land, args=(i,)) for i in range(len(modes))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for w in writers:
            w.close()
    assert not errors, errors
    return counts


def _assert_each_version_once(warehouse: Warehouse, expected: int) -> None:
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == expected
    doubled = warehouse.query(
        "SELECT tenant_id, order_id, payload_hash FROM cdp.orders_landing "
        "GROUP BY tenant_id, order_id, payload_hash HAVING count(*) > 1"
    )
    assert doubled == []


MIXES = {
    "checked": ["checked"] * WRITERS,
    "known_new_after": ["known_new"] * WRITERS,
    "mixed": ["known_new", "checked", "known_new", "checked"],
}


@pytest.mark.parametrize("mix", list(MIXES))
def test_writers_landing_the_same_versions_at_once_store_each_once(
    warehouse: Warehouse, make_row: RowFactory, mix: str
) -> None:
    rounds = 3
    for r in range(rounds):
        # a few versions of an order, two tenants, and a duplicate inside the batch
        rows = [make_row(f"r{r}-o{n // 2}", f"h{n % 2}", tenant_id=1 + n % 3) for n in range(VERSIONS)]
        counts = _land_at_once(warehouse, [*rows, rows[0]], MIXES[mix], seed=r)
        assert sum(counts) == VERSIONS, counts
    _assert_each_version_once(warehouse, rounds * VERSIONS)


@pytest.mark.postgres
def test_postgres_appends_without_a_check_still_store_each_version_once(
    pg_warehouse: Warehouse, make_row: RowFactory
) -> None:
    # the unique index makes the COPY fail; the batch then falls back to the checked insert
    for r in range(3):
        rows = [make_row(f"r{r}-o{n}", "h") for n in range(VERSIONS)]
        counts = _land_at_once(pg_warehouse, rows, ["append", "append", "checked", "known_new"], seed=r)
        assert sum(counts) == VERSIONS, counts
    _assert_each_version_once(pg_warehouse, 3 * VERSIONS)


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sets(st.integers(0, 30), max_size=12), st.sets(st.integers(0, 30), max_size=12)),
        min_size=1,
        max_size=5,
    )
)
def test_a_writer_landing_between_the_engines_lookup_and_insert_is_never_doubled(
    warehouse: Warehouse, make_row: RowFactory, steps: list[tuple[set[int], set[int]]]
) -> None:
    warehouse.execute("DELETE FROM cdp.orders_landing")
    files = warehouse.fork()
    try:
        total = 0
        for engine_keys, file_keys in steps:
            # the engine: read the floor, look up what is landed, keep only what is new to it ...
            floor = warehouse.max_landing_id()
            landed = {r[0] for r in warehouse.query("SELECT order_id FROM cdp.orders_landing")}
            todo = [make_row(f"o{k}", "h") for k in sorted(engine_keys) if f"o{k}" not in landed]
            # ... while a file lands some of the same versions ...
            total += files.insert_landing([make_row(f"o{k}", "h") for k in file_keys])
            # ... then land it, checked only against what landed after the floor
            with warehouse.transaction():
                warehouse.scalar("SELECT count(*) FROM cdp.tenants")
                total += warehouse.insert_landing(todo, known_new=True, checked_after=floor)
        expected = len(set().union(*(a | b for a, b in steps)))
        assert total == expected
        _assert_each_version_once(warehouse, expected)
    finally:
        files.close()


def test_a_version_held_by_a_transaction_that_rolls_back_is_landed_by_the_next(
    warehouse: Warehouse, make_row: RowFactory
) -> None:
    rows = [make_row(f"o{n}", "h") for n in range(50)]
    first, second = warehouse.fork(), warehouse.fork()
    landed, landing = threading.Event(), threading.Event()
    counts: list[int] = []
    try:

        def waits() -> None:
            landed.wait()
            with second.transaction():
                landing.set()
                counts.append(second.insert_landing(rows))  # waits for `first` to end

        t = threading.Thread(target=waits)
        t.start()
        with pytest.raises(RuntimeError), first.transaction():
            first.insert_landing(rows)
            landed.set()
            landing.wait()
            if warehouse.dialect == "postgres":  # the second waits on the first's rows (DuckDB: on its lock)
                wait_for(lambda: warehouse.scalar(PG_LOCK_WAITERS), "the second landing to wait on the first")
            raise RuntimeError("crash before commit")
        t.join()
    finally:
        first.close()
        second.close()
    assert counts == [50]
    _assert_each_version_once(warehouse, 50)


def test_checked_after_checks_only_versions_landed_after_it(warehouse: Warehouse, make_row: RowFactory) -> None:
    assert warehouse.max_landing_id() == 0
    with warehouse.transaction():
        assert warehouse.insert_landing([make_row("old", "h")]) == 1
    floor = warehouse.max_landing_id()
    assert floor >= 1
    with warehouse.transaction():
        assert warehouse.insert_landing([make_row("new", "h")], known_new=True) == 1
    assert warehouse.max_landing_id() > floor
    with warehouse.transaction():
        # "new" landed after the floor: found and skipped; "fresh" lands
        assert (
            warehouse.insert_landing(
                [make_row("new", "h"), make_row("fresh", "h")], known_new=True, checked_after=floor
            )
            == 1
        )
    assert sorted(r[0] for r in warehouse.query("SELECT order_id FROM cdp.orders_landing")) == ["fresh", "new", "old"]


def test_landing_outside_a_transaction_lands_and_lets_others_land(warehouse: Warehouse, make_row: RowFactory) -> None:
    other = warehouse.fork()
    try:
        assert warehouse.insert_landing([make_row("a", "h"), make_row("b", "h")]) == 2
        assert other.insert_landing([make_row("a", "h"), make_row("c", "h")]) == 1  # not blocked
        assert other.insert_landing([make_row("d", "h")], known_new=True, checked_after=0) == 1
    finally:
        other.close()
    _assert_each_version_once(warehouse, 4)


def test_the_warehouse_clock(warehouse: Warehouse) -> None:
    before = datetime.now(UTC)
    now = warehouse.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= now <= datetime.now(UTC) + timedelta(seconds=5)
    assert warehouse.scalar(f"SELECT {warehouse.now_sql} IS NOT NULL") is True
    if warehouse.dialect == "postgres":
        with warehouse.transaction():  # the wall clock, not the transaction's start
            first = warehouse.now()
            wait_for(lambda: warehouse.now() > first, "the warehouse's clock to move within a transaction")


@pytest.fixture
def pg_warehouse(pg_url: str) -> Iterator[Warehouse]:
    wh = open_warehouse(WarehouseSettings(url=pg_url))
    upgrade(wh)
    try:
        yield wh
    finally:
        wh.close()
