"""The tenant summaries (observe/summaries.py): kept from the landing ledger, equal to a full scan
whatever order versions land in, and what `status` and `lateness` read."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.land import ledger
from ordersync.observe import summaries
from ordersync.observe.verify import kept
from ordersync.outcomes import CheckStatus
from ordersync.tenants import Tenant
from ordersync.warehouse import LANDING_COLUMNS, Warehouse

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
CLOCK_START = NOW
_hashes = itertools.count(1)
SOURCES = ("push", "pull", "feed")
#: lateness of a version in seconds: every bucket, its bounds, clock skew
LATENESS = st.sampled_from([-60, 0, 3600, 3601, 86400, 259200, 259201, 604800, 604801, 9 * 86400])


@pytest.fixture(scope="module")
def app(shared_url: str, clock: ManualClock) -> Iterator[Ordersync]:
    with Ordersync(load_settings(overrides={"warehouse": {"url": shared_url}}), clock=clock) as app:
        app.init()
        yield app


def new_tenant(app: Ordersync) -> Tenant:
    return app.add_tenant(
        f"shop-{uuid.uuid4().hex[:8]}",
        account=None,
        base_url=None,
        app_key_env=None,
        app_token_env=None,
        platform="push",
        timezone="UTC",
    )


def row(tenant_id: int, order_id: str, day: date, source: str, late: float | None) -> tuple[Any, ...]:
    event_time = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "order_id": order_id,
        "event_time": event_time,
        "event_ingested_at": None if late is None else event_time + timedelta(seconds=late),
        "order_date": day,
        "creation_date": event_time,
        "status": "invoiced",
        "total_value": Decimal("10.00"),
        "currency_code": "BRL",
        "payload": "{}",
        "payload_hash": f"h{next(_hashes)}",
        "source": source,
    }
    return tuple(values.get(c) for c in LANDING_COLUMNS)


def land(wh: Warehouse, rows: list[tuple[Any, ...]]) -> None:
    """Rows landed as the product lands them: one batch of the landing ledger per call."""
    with wh.transaction():
        batch_id = ledger.new_batch_id(wh)
        assert wh.insert_landing(rows, batch_id=batch_id) == len(rows)
        ledger.record_batch(wh, batch_id, rows[0][LANDING_COLUMNS.index("tenant_id")], "push", None, len(rows), NOW)


def scanned_orders(wh: Warehouse, tenant_id: int) -> tuple[int, dict[date, int]]:
    total = int(wh.scalar("SELECT count(DISTINCT order_id) FROM cdp.orders_landing WHERE tenant_id = ?", (tenant_id,)))
    days = wh.query(
        "SELECT order_date, count(DISTINCT order_id) FROM cdp.orders_landing WHERE tenant_id = ? GROUP BY 1",
        (tenant_id,),
    )
    return total, {d: int(n) for d, n in days}


VERSION = st.tuples(
    st.integers(0, 5),  # order
    st.integers(0, 2),  # day (an order's versions may move between dates)
    st.sampled_from(SOURCES),
    LATENESS | st.none(),
)
# batches of versions, each followed (or not) by a refresh
STEPS = st.lists(st.tuples(st.lists(VERSION, min_size=1, max_size=6), st.booleans()), min_size=1, max_size=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_the_summaries_equal_a_full_scan_whatever_lands_when(app: Ordersync, steps: list[Any]) -> None:
    """Whatever the batches and wherever the refreshes fall between them, the summaries equal a full
    scan (the `summaries` verify check), and the figures status reads equal counting the versions."""
    wh, t = app.wh, new_tenant(app)
    first = date(2024, 5, 17)
    for versions, refresh in steps:
        land(wh, [row(t.tenant_id, f"o{o}", first + timedelta(days=d), s, late) for o, d, s, late in versions])
        if refresh:
            summaries.refresh(wh, app.clock)
    found = summaries.refresh(wh, app.clock)
    assert kept.check(wh, {t.tenant_id}).status == CheckStatus.PASS
    total, per_day = scanned_orders(wh, t.tenant_id)
    assert summaries.tenants(wh, found)[t.tenant_id].orders == total
    assert summaries.orders_on(wh, found, {t.tenant_id: first + timedelta(days=1)}).get(t.tenant_id, 0) == (
        per_day.get(first + timedelta(days=1), 0)
    )
    (status,) = app.status([t])
    assert status["orders_landed"] == total
    since = first + timedelta(days=1)
    assert summaries.later_than(wh, found, 3 * 86400, {t.tenant_id: since}) == {
        t.tenant_id: scanned_later(wh, t.tenant_id, 3 * 86400, since)
    }


def scanned_later(wh: Warehouse, tenant_id: int, seconds: float, since: date) -> int:
    """The oracle of `later_than`: versions of order dates from `since` on that landed more than
    `seconds` after their event, counted from the landing table."""
    rows = wh.query(
        "SELECT event_time, event_ingested_at FROM cdp.orders_landing WHERE tenant_id = ? AND order_date >= ?",
        (tenant_id, since),
    )
    return sum(1 for at, landed in rows if landed is not None and (landed - at).total_seconds() > seconds)


def test_late_versions_are_counted_from_each_tenants_own_first_day(app: Ordersync) -> None:
    one, two = new_tenant(app), new_tenant(app)
    days = [date(2024, 5, 15) + timedelta(days=d) for d in range(4)]
    for t in (one, two):
        land(app.wh, [row(t.tenant_id, f"o{i}", day, "push", 8 * 86400) for i, day in enumerate(days)])
    found = summaries.refresh(app.wh, app.clock)
    since = {one.tenant_id: days[1], two.tenant_id: days[3]}
    assert summaries.later_than(app.wh, found, 7 * 86400, since) == {one.tenant_id: 3, two.tenant_id: 1}
    assert {t: scanned_later(app.wh, t, 7 * 86400, d) for t, d in since.items()} == {one.tenant_id: 3, two.tenant_id: 1}


def test_status_and_lateness_read_what_landed_since_the_last_refresh(app: Ordersync) -> None:
    t = new_tenant(app)
    day = NOW.date()
    land(app.wh, [row(t.tenant_id, "a", day, "push", 0), row(t.tenant_id, "b", day, "push", 8 * 86400)])
    (status,) = app.status([t])
    assert (status["orders_landed"], status["orders_today"], status["late_versions_over_budget"]) == (2, 2, 1)
    land(app.wh, [row(t.tenant_id, "a", day, "feed", 90), row(t.tenant_id, "c", day, "feed", 90)])
    (status,) = app.status([t])
    assert (status["orders_landed"], status["orders_today"]) == (3, 3)
    (r,) = app.lateness(t.tenant_name)
    assert r["versions"] == 4 and r["over_budget"] == 1 and r["by_source"]["feed"]["versions"] == 2


def test_a_keepers_readers_read_the_summaries_as_last_counted(app: Ordersync, clock: ManualClock) -> None:
    """serve's readers (a Keeper its loop refreshes) read the summaries as last counted and say
    when; until the loop has counted once, a read counts for itself."""
    t, day = new_tenant(app), NOW.date()
    keeper = summaries.Keeper()
    with Ordersync(app.settings, clock=clock, keeper=keeper) as reader:
        land(app.wh, [row(t.tenant_id, "a", day, "push", 0)])
        (status,) = reader.status([t])
        assert (status["orders_landed"], status["counted_at"]) == (1, clock.now().isoformat())
        keeper.at = clock.now() - timedelta(seconds=2)
        land(app.wh, [row(t.tenant_id, "b", day, "push", 0)])
        (status,) = reader.status([t])
        assert (status["orders_landed"], status["counted_at"]) == (1, keeper.at.isoformat())
        assert reader.lateness(t.tenant_name)[0]["versions"] == 1
        summaries.refresh(app.wh, clock)  # the loop's turn
        (status,) = reader.status([t])
        assert status["orders_landed"] == 2 and reader.lateness(t.tenant_name)[0]["versions"] == 2


def test_verify_finds_a_version_landed_outside_the_ledger(shared_url: str, app: Ordersync) -> None:
    """A row without a batch after the summaries began is not in them: the check says which day."""
    t = new_tenant(app)
    land(app.wh, [row(t.tenant_id, "a", NOW.date(), "push", 0)])
    summaries.refresh(app.wh, app.clock)
    assert kept.check(app.wh, {t.tenant_id}).status == CheckStatus.PASS
    with app.wh.transaction():
        app.wh.insert_landing([row(t.tenant_id, "stray", NOW.date(), "push", 0)])
    result = kept.check(app.wh, {t.tenant_id})
    assert result.status == CheckStatus.FAIL
    assert f"tenant totals {t.tenant_id}" in result.summary and result.figures["rows_differing"] == 3


@pytest.mark.postgres
def test_concurrent_landings_and_refreshes_count_each_order_once(pg_server_url: str, clock: ManualClock) -> None:
    """Writers landing versions of the same orders from several connections while others refresh:
    batches commit in any order, and each order is still counted once."""
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS cdp CASCADE")
    with Ordersync(load_settings(overrides={"warehouse": {"url": pg_server_url}}), clock=clock) as app:
        app.init()
        t = new_tenant(app)
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            wh = app.wh.fork()
            try:
                for i in range(15):
                    land(wh, [row(t.tenant_id, f"o{(i + n) % 9}", NOW.date(), SOURCES[n % 3], 60)])
                    if i % 4 == n % 4:
                        summaries.refresh(wh, clock)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                wh.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        assert not errors and not any(th.is_alive() for th in threads)
        summaries.refresh(app.wh, clock)
        assert kept.check(app.wh, None).status == CheckStatus.PASS
        assert summaries.tenants(app.wh, summaries.Kept())[t.tenant_id].orders == 9


def test_a_read_only_reader_adds_what_no_refresh_has_kept(tmp_path: Path, clock: ManualClock) -> None:
    """DuckDB opened read-only cannot write the summaries: status sums the tables and, beside
    them, what landed since their last refresh."""
    url = str(tmp_path / "wh.duckdb")
    overrides = {"warehouse": {"url": url}}
    with Ordersync(load_settings(overrides=overrides), clock=clock) as app:
        app.init()
        t = new_tenant(app)
        land(app.wh, [row(t.tenant_id, "a", NOW.date(), "push", 0)])
        app.status([t])  # kept up to here
        land(app.wh, [row(t.tenant_id, "a", NOW.date(), "pull", 0), row(t.tenant_id, "b", NOW.date(), "pull", 0)])
    with Ordersync(load_settings(overrides=overrides), clock=clock, read_only=True) as reader:
        (status,) = reader.status()
        assert (status["orders_landed"], status["orders_today"]) == (2, 2)
        (r,) = reader.lateness(t.tenant_name)
        assert r["versions"] == 3
        assert reader.wh.scalar("SELECT count(*) FROM cdp.tenant_summaries") == 1  # nothing written
