"""The landing ledger on real warehouses: one batch per landing call, committed with its rows;
sealed only once committed and numbered in the order batches became visible; cursors that never
move back; and "known at T" as committed_at <= T."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersync.clock import ManualClock
from ordersync.land import Lander, ledger
from ordersync.land.records import Version
from ordersync.warehouse import LANDING_COLUMNS, Warehouse

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def version(order_id: str, payload_hash: str, event_time: datetime = T0) -> Version:
    return Version(
        order_id=order_id,
        event_time=event_time,
        order_date=event_time.date(),
        creation_date=event_time,
        status="invoiced",
        total_value=Decimal("10.00"),
        currency_code="BRL",
        sales_channel="1",
        customer_id="c",
        customer_email="c@example.com",
        customer_name="C",
        payload=f'{{"orderId": "{order_id}", "v": "{payload_hash}"}}',
        payload_hash=payload_hash,
    )


def batches(wh: Warehouse) -> list[tuple[int, int, str, int, int | None]]:
    """(batch_id, tenant_id, source, rows, seq) of every batch, by batch_id."""
    return [
        (int(b), int(t), str(s), int(r), None if q is None else int(q))
        for b, t, s, r, q in wh.query(
            "SELECT batch_id, tenant_id, source, rows, seq FROM cdp.landing_batches ORDER BY batch_id"
        )
    ]


def add_batch(wh: Warehouse, tenant_id: int = 1, source: str = "test", rows: int = 1) -> int:
    batch_id = ledger.new_batch_id(wh)
    ledger.record_batch(wh, batch_id, tenant_id, source, None, rows, T0)
    return batch_id


def test_each_landing_call_is_one_batch_stamped_on_its_rows(warehouse: Warehouse) -> None:
    lander = Lander(warehouse, ManualClock(T0))
    with warehouse.transaction():
        assert lander.land(1, [version("a", "h1"), version("b", "h1")], "pull", "run-1") == 2
    # in autocommit the rows and their batch still commit together
    assert lander.land(2, [version("a", "h1"), version("a", "h1")], "push", None) == 1
    # nothing new, no batch
    assert lander.land(1, [version("a", "h1")], "pull", "run-2") == 0
    assert lander.land(1, [], "pull", "run-2") == 0

    got = batches(warehouse)
    assert [(t, s, r, q) for _, t, s, r, q in got] == [(1, "pull", 2, None), (2, "push", 1, None)]
    first, second = got[0][0], got[1][0]
    rows = warehouse.query("SELECT tenant_id, order_id, batch_id FROM cdp.orders_landing ORDER BY tenant_id, order_id")
    assert rows == [(1, "a", first), (1, "b", first), (2, "a", second)]
    assert warehouse.query("SELECT DISTINCT run_id, landed_at FROM cdp.landing_batches WHERE tenant_id = 1") == [
        ("run-1", T0)
    ]


def test_the_fast_path_stamps_the_batch_too(warehouse: Warehouse) -> None:
    lander = Lander(warehouse, ManualClock(T0))
    with warehouse.transaction():
        floor = warehouse.max_landing_id()
        assert lander.land(1, [version("a", "h1")], "pull", None, known_new=True, checked_after=floor) == 1
        assert lander.land(1, [version("b", "h1")], "pull", None, known_new=True) == 1
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing WHERE batch_id IS NULL") == 0
    assert [r for *_, r, _ in batches(warehouse)] == [1, 1]


def test_a_batch_rolls_back_with_its_rows(warehouse: Warehouse) -> None:
    lander = Lander(warehouse, ManualClock(T0))
    with pytest.raises(RuntimeError), warehouse.transaction():
        lander.land(1, [version("a", "h1")], "pull", None)
        raise RuntimeError("the caller fails after landing")
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == 0
    assert batches(warehouse) == []
    assert ledger.seal(warehouse) is None


def test_seal_numbers_batches_in_the_order_they_committed(warehouse: Warehouse) -> None:
    assert ledger.seal(warehouse) is None  # an empty ledger
    early, late = warehouse.fork(), warehouse.fork()
    try:
        # `early` takes the smaller batch id but commits after `late` and after a seal
        with early.transaction():
            first = add_batch(early, source="early", rows=3)
            with late.transaction():
                second = add_batch(late, source="late")
            assert first < second
            assert ledger.seal(warehouse) == 1  # the open batch is not sealed
            assert batches(warehouse) == [(second, 1, "late", 1, 1)]
        assert ledger.seal(warehouse) == 2
        assert batches(warehouse) == [(first, 1, "early", 3, 2), (second, 1, "late", 1, 1)]
        assert ledger.seal(warehouse) == 2  # nothing new, nothing changes
        assert batches(warehouse)[0][4] == 2
    finally:
        early.close()
        late.close()


def test_committed_at_comes_from_the_clock_and_never_goes_back(warehouse: Warehouse) -> None:
    clock = ManualClock(T0 + 5 * HOUR)
    add_batch(warehouse)
    ledger.seal(warehouse, clock)
    clock.set(T0 + 2 * HOUR)  # this clock (another process's) is behind the last seal
    add_batch(warehouse)
    ledger.seal(warehouse, clock)
    clock.set(T0 + 9 * HOUR)
    add_batch(warehouse)
    ledger.seal(warehouse, clock)
    rows = warehouse.query("SELECT seq, committed_at FROM cdp.landing_batches ORDER BY seq")
    assert rows == [(1, T0 + 5 * HOUR), (2, T0 + 5 * HOUR), (3, T0 + 9 * HOUR)]

    # without a clock: the warehouse's
    before = warehouse.now()
    add_batch(warehouse)
    ledger.seal(warehouse)
    stamped = warehouse.scalar("SELECT committed_at FROM cdp.landing_batches WHERE seq = 4")
    assert stamped >= before - timedelta(seconds=5)


def test_a_cursor_starts_at_zero_moves_only_forward_and_never_past_the_ledger(warehouse: Warehouse) -> None:
    assert ledger.cursor(warehouse, "fct_orders") == 0
    for _ in range(3):
        add_batch(warehouse)
    assert ledger.seal(warehouse) == 3
    assert ledger.advance(warehouse, "fct_orders", 2) == 2
    assert ledger.advance(warehouse, "fct_orders", 1) == 2  # a slower build finishing late
    assert ledger.cursor(warehouse, "other") == 0  # consumers are independent
    assert ledger.advance(warehouse, "other", 3) == 3
    with pytest.raises(ValueError, match="sealed up to 3"):
        ledger.advance(warehouse, "fct_orders", 4)
    with pytest.raises(ValueError):
        ledger.advance(warehouse, "fct_orders", -1)
    assert ledger.cursor(warehouse, "fct_orders") == 2
    assert ledger.advance(warehouse, "fct_orders", 3) == 3


def unbatched_row(order_id: str, event_time: datetime) -> tuple[object, ...]:
    """A row as landed before the ledger: no batch, a null event_ingested_at (on time)."""
    v = version(order_id, "h1", event_time)
    values = {f: getattr(v, f, None) for f in LANDING_COLUMNS}
    values.update(tenant_id=1, event_ingested_at=None, source="legacy", run_id=None)
    return tuple(values[c] for c in LANDING_COLUMNS)


def test_known_at_is_committed_at_up_to_t(warehouse: Warehouse) -> None:
    clock = ManualClock(T0)
    lander = Lander(warehouse, clock)
    lander.land(1, [version("a", "h1")], "pull", None)  # stamped T0, sealed at T0 + 1h
    lander.land(2, [version("x", "h1")], "pull", None)
    clock.set(T0 + HOUR)
    ledger.seal(warehouse, clock)
    # stamped by a clock a day ahead, committed (sealed) at T0 + 2h
    Lander(warehouse, ManualClock(T0 + 24 * HOUR)).land(1, [version("b", "h1")], "push", None)
    clock.set(T0 + 2 * HOUR)
    ledger.seal(warehouse, clock)
    lander.land(1, [version("c", "h1")], "pull", None)  # landed, not sealed yet
    with warehouse.transaction():
        warehouse.insert_landing([unbatched_row("legacy", T0 - HOUR)])  # known from its processing time

    assert ledger.committed_by(warehouse, None, T0) == 0
    assert ledger.committed_by(warehouse, None, T0 + HOUR) == 2
    assert ledger.committed_by(warehouse, 1, T0 + HOUR) == 1
    assert ledger.committed_by(warehouse, 2, T0 + 10 * HOUR) == 2
    assert ledger.committed_by(warehouse, 1, T0 + 10 * HOUR) == 3

    def known(at: datetime) -> list[str]:
        rows = warehouse.query(
            f"SELECT l.order_id FROM cdp.orders_landing l WHERE l.tenant_id = 1 AND {ledger.known_at_sql('l')} <= ? "
            "ORDER BY l.order_id",
            (at,),
        )
        return [r[0] for r in rows]

    assert known(T0 - 2 * HOUR) == []
    assert known(T0) == ["legacy"]
    assert known(T0 + HOUR) == ["a", "legacy"]
    assert known(T0 + 2 * HOUR) == ["a", "b", "legacy"]  # not at its stamp (T0 + 24h): at its commit
    assert known(T0 + 48 * HOUR) == ["a", "b", "legacy"]  # "c" is not sealed yet
    with pytest.raises(ValueError):
        ledger.known_at_sql("l; drop table x")


def test_concurrent_landings_and_seals_number_every_batch_once(warehouse: Warehouse) -> None:
    """Four connections landing and sealing at once: every batch ends up with one seq, the seqs are
    1..n without a gap, and committed_at never decreases along them."""
    forks = [warehouse.fork() for _ in range(4)]
    errors: list[BaseException] = []
    sealed: list[int | None] = []
    start = threading.Barrier(len(forks), timeout=30)

    def work(i: int, wh: Warehouse) -> None:
        try:
            lander = Lander(wh, ManualClock(T0 + i * HOUR))
            start.wait()
            for k in range(15):
                lander.land(i, [version(f"o-{i}-{k}", "h")], f"writer-{i}", None)
                if k % 3 == i % 3:
                    sealed.append(ledger.seal(wh))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, f)) for i, f in enumerate(forks)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
    finally:
        for f in forks:
            f.close()
    assert ledger.seal(warehouse) == 60
    seqs = warehouse.query("SELECT seq, committed_at FROM cdp.landing_batches ORDER BY seq")
    assert [s for s, _ in seqs] == list(range(1, 61))
    stamps = [c for _, c in seqs]
    assert stamps == sorted(stamps)
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing WHERE batch_id IS NULL") == 0
