"""The lists the API and the pages show, read a page at a time from the warehouse: walking one with
small pages while rows are added between them sees every row that was there when it began exactly
once, in the list's order, each item as the unpaged list (what the CLI prints) has it; a page is
full while items remain, whatever a tenant's token may not see."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ordersync.clock import ManualClock
from ordersync.customers import events as customer_events
from ordersync.customers.events import Event, EventKind
from ordersync.errors import ConfigError
from ordersync.facade import Ordersync
from ordersync.paging import Key, Page, decode, every_item
from ordersync.reads import Reads, plain
from ordersync.revisions import plans as plan_store
from support.notices import push_tenant, settings

NOW = datetime(2026, 12, 20, 12, tzinfo=UTC)
#: few distinct values, so that many rows tie on the leading columns of a list's order
CLVS = (None, "10.00", "20.50", "20.50")
NETS = ("5.00", "7.25", "-1.00")


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    with Ordersync(settings(warehouse_url, tmp_path), clock=ManualClock(NOW)) as found:
        push_tenant(found, "shop")
        push_tenant(found, "other")
        yield found


def _walk(fetch: Callable[[Key | None], Page], add: Callable[[], None], limit: int) -> list[dict[str, Any]]:
    """Every item of a list, a page at a time, `add` run between pages; each page but the last full."""
    seen: list[dict[str, Any]] = []
    after: Key | None = None
    while True:
        page = fetch(after)
        seen += page.data
        if page.next is None:
            return seen
        assert len(page.data) == limit
        add()
        after = decode(page.next)


def _check(seen: list[dict[str, Any]], first: list[dict[str, Any]], whole: list[dict[str, Any]], ident: str) -> None:
    """`seen` holds every item of `first` once, no item twice, in the order of `whole` (the list as
    the CLI reads it at the end), each item as `whole` has it."""
    ids = [i[ident] for i in seen]
    assert len(ids) == len(set(ids))
    assert {i[ident] for i in first} <= set(ids)
    by_id = {i[ident]: i for i in whole}
    assert seen == [by_id[i] for i in ids]
    place = {i[ident]: n for n, i in enumerate(whole)}
    assert [place[i] for i in ids] == sorted(place[i] for i in ids)


# -- customers -------------------------------------------------------------------------------------


def _add_customer(app: Ordersync, tenant_id: int, rng: random.Random, key: str) -> None:
    net, clv = Decimal(rng.choice(NETS)), rng.choice(CLVS)
    wh = app.wh
    wh.execute(
        "INSERT INTO cdp.customer_profiles (tenant_id, customer_key, orders, purchases, purchase_days, net_revenue, "
        "currency_code, updated_at) VALUES (?, ?, 1, 1, 1, ?, 'BRL', ?)",
        (tenant_id, key, net, NOW),
    )
    if rng.random() < 0.8:  # some have no CLV row at all: as NULL a CLV
        wh.execute(
            "INSERT INTO cdp.customer_clv (tenant_id, customer_key, model_version, p_alive, clv_12m, scored_for, "
            "updated_at) VALUES (?, ?, 'm1', 0.5, ?, ?, ?)",
            (tenant_id, key, None if clv is None else Decimal(clv), NOW.date(), NOW),
        )
    if rng.random() < 0.8:
        wh.execute(
            "INSERT INTO cdp.customer_rfm (tenant_id, customer_key, frequency, monetary, r_score, f_score, m_score, "
            "segment, scored_for, updated_at) VALUES (?, ?, 1, ?, 1, 2, 3, ?, ?, ?)",
            (tenant_id, key, net, rng.choice(("champions", "at_risk")), NOW.date(), NOW),
        )
        wh.execute(
            "INSERT INTO cdp.customer_journey (tenant_id, customer_key, stage, stage_changed_at, scored_for, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, key, rng.choice(("active", "lapsed")), NOW.date(), NOW.date(), NOW),
        )


def test_customers_walk_in_value_order_while_customers_arrive(app: Ordersync) -> None:
    rng = random.Random(3)
    shop, other = app.tenants.get("shop").tenant_id, app.tenants.get("other").tenant_id
    for n in range(20):
        _add_customer(app, shop, rng, f"cus_{rng.randrange(10**6):06d}_{n}")
        _add_customer(app, other, rng, f"cus_o{n}")
    reads = Reads(app)
    first = [plain(i) for i in app.list_customers("shop")]
    count = iter(range(1000))

    def arrive() -> None:
        _add_customer(app, shop, rng, f"cus_{rng.randrange(10**6):06d}_new{next(count)}")

    for limit in (2, 5):
        seen = _walk(
            lambda after, limit=limit: reads.customers(
                "shop", None, segment=None, stage=None, top=None, after=after, limit=limit
            ),
            arrive,
            limit,
        )
        whole = [plain(i) for i in app.list_customers("shop")]
        _check(seen, first, whole, "customer_key")
        assert {i["tenant"] for i in seen} == {"shop"}
        first = whole


def test_customers_filters_and_top_page_as_the_cli_lists(app: Ordersync) -> None:
    rng = random.Random(5)
    shop = app.tenants.get("shop").tenant_id
    for n in range(30):
        _add_customer(app, shop, rng, f"cus_{n:03d}")
    reads = Reads(app)
    cases: list[dict[str, Any]] = [
        {"segment": "champions", "stage": None, "top": None},
        {"segment": None, "stage": "lapsed", "top": None},
        {"segment": None, "stage": None, "top": 11},
        {"segment": "at_risk", "stage": "active", "top": 4},
    ]
    for case in cases:
        whole = [plain(i) for i in app.list_customers("shop", **case)]
        assert whole
        for limit in (2, 5):
            paged = every_item(
                lambda c, case=case, limit=limit: reads.customers("shop", None, **case, after=decode(c), limit=limit)
            )
            assert paged == whole
    counts = reads.customer_counts("shop", None)
    everyone = app.list_customers("shop")
    for kind in ("segment", "stage"):
        assert counts[kind] == dict(Counter(str(c[kind] or "none") for c in everyone))
    with pytest.raises(ConfigError, match="cursor"):
        reads.customers("shop", None, segment=None, stage=None, top=None, after=("x", "1", "k"), limit=2)


# -- quarantine ------------------------------------------------------------------------------------


def _quarantine(app: Ordersync, tenant_id: int, n: int, resolved: bool = False) -> None:
    app.wh.execute(
        "INSERT INTO cdp.quarantine (tenant_id, source, order_id, reason, raw, quarantined_at, raw_hash, resolved_at) "
        "VALUES (?, 'push', ?, 'bad', '{}', ?, ?, ?)",
        (tenant_id, f"o-{n}", NOW, f"h{n}", NOW if resolved else None),
    )


def test_quarantine_walks_oldest_first_while_records_arrive(app: Ordersync) -> None:
    shop, other = app.tenants.get("shop").tenant_id, app.tenants.get("other").tenant_id
    count = iter(range(1000))
    for _ in range(9):
        _quarantine(app, shop, next(count))
        _quarantine(app, other, next(count))
        _quarantine(app, shop, next(count), resolved=True)
    reads = Reads(app)
    for resolved in (False, True):
        first = app.quarantine_list("shop", resolved)

        def arrive() -> None:
            _quarantine(app, shop, next(count))
            _quarantine(app, other, next(count))

        seen = _walk(lambda after, resolved=resolved: reads.quarantine("shop", None, resolved, after, 2), arrive, 2)
        _check(seen, first, app.quarantine_list("shop", resolved), "quarantine_id")
        assert all(i["tenant"] == "shop" and (resolved or not i["resolved"]) for i in seen)


# -- notices ---------------------------------------------------------------------------------------


def _notice(app: Ordersync, tenant_id: int, n: int, revised_at: datetime) -> None:
    app.wh.execute(
        "INSERT INTO cdp.revision_notices (notice_id, tenant_id, order_date, currency_code, revenue_before, "
        "revenue_after, delta, orders_changed, revised_at) VALUES (?, ?, ?, 'BRL', 1, 2, 1, 1, ?)",
        (f"n{n:04d}", tenant_id, date(2026, 12, 1), revised_at),
    )


def test_notices_walk_newest_first_while_builds_revise_days(app: Ordersync) -> None:
    rng = random.Random(7)
    shop, other = app.tenants.get("shop").tenant_id, app.tenants.get("other").tenant_id
    moments = [NOW - timedelta(hours=h) for h in (1, 2, 2, 3)]  # a build revises several days at once
    count = iter(rng.sample(range(1000), 1000))
    for _ in range(12):
        _notice(app, rng.choice((shop, other)), next(count), rng.choice(moments))
    reads = Reads(app)
    first = app.list_notices()

    def arrive() -> None:
        _notice(app, rng.choice((shop, other)), next(count), rng.choice([NOW, *moments]))

    seen = _walk(lambda after: reads.notices(None, after, 3), arrive, 3)
    _check(seen, first, app.list_notices(), "notice_id")
    mine = _walk(lambda after: reads.notices(shop, after, 2), lambda: None, 2)
    assert mine == app.list_notices("shop")


# -- plans -----------------------------------------------------------------------------------------


def _plan(app: Ordersync, n: int, created_at: datetime, tenant_ids: list[int]) -> None:
    scope = {
        "tenant_ids": tenant_ids,
        "tenants": [str(t) for t in tenant_ids],
        "from": "2026-12-01",
        "to": "2026-12-02",
    }
    app.wh.execute(
        "INSERT INTO cdp.plans (plan_id, kind, status, author, created_at, scope, body, body_hash) "
        "VALUES (?, 'restate', 'drafted', 'ana', ?, ?, '{}', 'h')",
        (f"p-{n:04d}", created_at, json.dumps(scope, sort_keys=True)),
    )


def test_plans_walk_newest_first_and_a_tenants_pages_are_full(app: Ordersync, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_store, "_SCOPE_BATCH", 3)  # several batches of scopes for one page
    rng = random.Random(11)
    shop, other = app.tenants.get("shop").tenant_id, app.tenants.get("other").tenant_id
    scopes = ([shop], [other], [shop, other], [other])
    moments = [NOW - timedelta(hours=h) for h in range(5)]
    count = iter(rng.sample(range(1000), 1000))
    for _ in range(110):  # more than the 100 the plans list once stopped at
        _plan(app, next(count), rng.choice(moments), rng.choice(scopes))
    reads = Reads(app)

    def arrive() -> None:
        _plan(app, next(count), rng.choice([NOW, *moments]), rng.choice(scopes))

    def whole() -> list[dict[str, Any]]:
        return every_item(lambda c: reads.plans(None, decode(c), 1000))

    first = whole()
    assert len(first) == 110
    seen = _walk(lambda after: reads.plans(None, after, 7), arrive, 7)
    _check(seen, first, whole(), "plan_id")
    table = [p.summary() for p in app.recent_plans()]  # `plan list`: the same order
    assert table == whole()[: len(table)]

    everything = whole()
    shops = [p for p in everything if p["tenants"] == str(shop)]
    for limit in (1, 4):
        assert _walk(lambda after, limit=limit: reads.plans(shop, after, limit), lambda: None, limit) == shops


# -- customer events -------------------------------------------------------------------------------


def _events(app: Ordersync, tenant_id: int, rng: random.Random, n: int, on: date) -> None:
    found = [
        Event(tenant_id, f"cus_{n}_{i}", EventKind.SEGMENT_CHANGED, "at_risk", "champions", on, rng.random() < 0.3)
        for i in range(2)
    ]
    customer_events.write(app.wh, found, f"run-{n}", NOW)


def test_customer_events_walk_oldest_first_while_events_are_written(app: Ordersync) -> None:
    rng = random.Random(13)
    shop, other = app.tenants.get("shop").tenant_id, app.tenants.get("other").tenant_id
    days = [date(2026, 12, d) for d in (1, 2, 2, 5)]
    count = iter(range(1000))
    for _ in range(8):
        _events(app, rng.choice((shop, other)), rng, next(count), rng.choice(days))
    reads = Reads(app)
    for since in (None, date(2026, 12, 2)):
        first = app.customer_events("shop", since=since)

        def arrive() -> None:
            _events(app, shop, rng, next(count), rng.choice([*days, date(2026, 12, 9)]))

        seen = _walk(lambda after, since=since: reads.customer_events("shop", None, since, after, 3), arrive, 3)
        _check(seen, first, app.customer_events("shop", since=since), "id")
