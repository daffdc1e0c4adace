"""list_window against a real local server: paging, window splitting, inclusive ends, bad items."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from ordersync.errors import SourceError
from ordersync.sources.vtex import ListEntry, VtexClient
from ordersync.sources.vtex.windows import ListWindow, from_ms
from support.fake_vtex import APP_KEY, APP_TOKEN, FakeOrder, FakeVtex, RecordingSleep, spread

DAY = datetime(2024, 5, 1, 3, tzinfo=UTC)
DAY_END = DAY + timedelta(days=1) - timedelta(milliseconds=1)


def client(fake: FakeVtex, **kwargs: object) -> VtexClient:
    kwargs.setdefault("sleep", RecordingSleep())
    return VtexClient(fake.base_url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), **kwargs)  # type: ignore[arg-type]


async def collect(c: VtexClient, start: datetime, end: datetime, field: str = "creationDate") -> list[ListEntry]:
    out: list[ListEntry] = []
    async for page in c.list_window(field, start, end):  # type: ignore[arg-type]
        assert page, "pages are never empty"
        out.extend(page)
    return out


def test_small_window_reads_every_page_once() -> None:
    async def go() -> None:
        async with FakeVtex(spread(250, DAY, DAY_END)) as fake, client(fake, per_page=100) as c:
            entries = await collect(c, DAY, DAY_END)
            assert sorted(e.order_id for e in entries) == sorted(fake.orders)
            assert c.stats.list_calls == 3
            assert c.stats.splits == 0
            pages = sorted(int(parse_qs(q)["page"][0]) for q in fake.list_queries)
            assert pages == [1, 2, 3]

    asyncio.run(go())


def test_query_is_vtex_syntax_and_properly_encoded() -> None:
    async def go() -> None:
        async with FakeVtex(spread(3, DAY, DAY_END)) as fake, client(fake, per_page=50) as c:
            await collect(c, DAY, DAY_END, "authorizedDate")
            raw = fake.list_queries[0]
            assert "%20TO%20" in raw and "%5B" in raw and "%5D" in raw
            q = {k: v[0] for k, v in parse_qs(raw).items()}
            assert q == {
                "f_authorizedDate": "authorizedDate:[2024-05-01T03:00:00.000Z TO 2024-05-02T02:59:59.999Z]",
                "per_page": "50",
                "orderBy": "creationDate,asc",
                "page": "1",
            }
            headers = fake.last_headers
            assert headers["X-VTEX-API-AppKey"] == APP_KEY
            assert headers["X-VTEX-API-AppToken"] == APP_TOKEN
            assert headers["Accept"] == "application/json"
            assert headers["Content-Type"] == "application/json"

    asyncio.run(go())


def test_more_than_30_pages_splits_and_returns_each_order_exactly_once() -> None:
    orders = spread(3_200, DAY, DAY_END)
    # Orders on the ends and on the first split's shared boundary, which two slices both return.
    mid = ListWindow.covering(DAY, DAY_END).split(2)[0].end
    orders += [
        FakeOrder("edge-start", DAY),
        FakeOrder("edge-end", DAY_END),
        FakeOrder("edge-mid", from_ms(mid)),
        FakeOrder("edge-mid-plus", from_ms(mid) + timedelta(microseconds=400)),
    ]

    async def go() -> None:
        async with FakeVtex(orders) as fake, client(fake, concurrency=8) as c:
            entries = await collect(c, DAY, DAY_END)
            ids = [e.order_id for e in entries]
            assert len(ids) == len(set(ids)) == 3_204
            assert set(ids) == set(fake.orders)
            assert c.stats.splits == 1
            assert max(int(parse_qs(q)["page"][0]) for q in fake.list_queries) <= 30

    asyncio.run(go())


def test_dense_slice_is_split_again() -> None:
    burst_start = DAY + timedelta(hours=7, minutes=13)
    orders = spread(1_500, DAY, DAY_END) + spread(3_100, burst_start, burst_start + timedelta(minutes=9), "b")

    async def go() -> None:
        async with FakeVtex(orders) as fake, client(fake, concurrency=16) as c:
            entries = await collect(c, DAY, DAY_END)
            ids = [e.order_id for e in entries]
            assert len(ids) == len(set(ids)) == len(orders)
            assert c.stats.splits > 1

    asyncio.run(go())


def test_ends_are_inclusive_to_the_microsecond() -> None:
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    end = datetime(2024, 5, 1, 11, 59, 59, 999_999, tzinfo=UTC)
    inside = [
        FakeOrder("at-start", start),
        FakeOrder("at-end", end),
        # Between the last whole millisecond and `end`: a filter cut at .999 would lose it.
        FakeOrder("sub-ms-before-end", end - timedelta(microseconds=300)),
    ]
    outside = [
        FakeOrder("before", start - timedelta(microseconds=1)),
        FakeOrder("well-after", end + timedelta(milliseconds=5)),
    ]

    async def go() -> None:
        async with FakeVtex(inside + outside) as fake, client(fake) as c:
            ids = {e.order_id for e in await collect(c, start, end)}
            assert ids == {o.order_id for o in inside}

    asyncio.run(go())


def test_filters_by_the_field_asked() -> None:
    a = FakeOrder("paid-in-window", DAY - timedelta(days=3), authorized=DAY + timedelta(hours=1))
    b = FakeOrder("created-in-window", DAY + timedelta(hours=2), authorized=DAY + timedelta(days=2))
    c_ = FakeOrder("invoiced", DAY - timedelta(days=9), invoiced=DAY + timedelta(hours=5))

    async def go() -> None:
        async with FakeVtex([a, b, c_]) as fake, client(fake) as c:
            assert {e.order_id for e in await collect(c, DAY, DAY_END, "authorizedDate")} == {a.order_id}
            assert {e.order_id for e in await collect(c, DAY, DAY_END, "creationDate")} == {b.order_id}
            assert {e.order_id for e in await collect(c, DAY, DAY_END, "invoicedDate")} == {c_.order_id}

    asyncio.run(go())


def test_window_that_cannot_be_split_raises() -> None:
    when = DAY + timedelta(hours=5, minutes=17, seconds=3, microseconds=250)
    crowd = [FakeOrder(f"same-{i}", when) for i in range(310)]

    async def go() -> None:
        async with FakeVtex(crowd) as fake, client(fake, per_page=10) as c:
            with pytest.raises(SourceError, match="cannot be split") as info:
                await collect(c, DAY, DAY_END)
            assert "310 orders" in str(info.value)

    asyncio.run(go())


def test_list_items_in_every_date_form_parse() -> None:
    forms = {
        "2024-05-01T14:32:10Z": datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC),
        "2024-05-01T14:32:10+00:00": datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC),
        "2024-05-01T14:32:10.5Z": datetime(2024, 5, 1, 14, 32, 10, 500_000, tzinfo=UTC),
        "2024-05-01T14:32:10.123Z": datetime(2024, 5, 1, 14, 32, 10, 123_000, tzinfo=UTC),
        "2024-05-01T14:32:10.899958+00:00": datetime(2024, 5, 1, 14, 32, 10, 899_958, tzinfo=UTC),
        "2024-05-01T14:32:10.7010747+00:00": datetime(2024, 5, 1, 14, 32, 10, 701_074, tzinfo=UTC),
        "2024-05-01T11:32:10.0000000-03:00": datetime(2024, 5, 1, 14, 32, 10, tzinfo=UTC),
    }
    orders = [
        FakeOrder(f"form-{i}", expected, wire_creation=wire, total_value=12345.0)
        for i, (wire, expected) in enumerate(forms.items())
    ]

    async def go() -> None:
        async with FakeVtex(orders) as fake, client(fake) as c:
            entries = {e.order_id: e for e in await collect(c, DAY, DAY_END)}
            for order in orders:
                entry = entries[order.order_id]
                assert entry.creation_date == order.creation
                assert entry.creation_date.tzinfo is not None
                assert entry.total_value_cents == 12345
                assert entry.status == "invoiced"
                assert entry.last_change is not None

    asyncio.run(go())


def test_bad_list_items_are_skipped_and_counted() -> None:
    async def go() -> None:
        async with FakeVtex(spread(20, DAY, DAY_END)) as fake, client(fake) as c:
            fake.extra_items = [
                {"creationDate": "2024-05-01T14:32:10Z"},
                {"orderId": "", "creationDate": "2024-05-01T14:32:10Z"},
                {"orderId": "no-date"},
                {"orderId": "bad-date", "creationDate": "yesterday"},
                {"orderId": "null-date", "creationDate": None},
                "not an object",
                {
                    "orderId": "odd-extras",
                    "creationDate": "2024-05-01T14:32:10Z",
                    "lastChange": "?",
                    "totalValue": "x",
                },
            ]
            entries = await collect(c, DAY, DAY_END)
            assert c.stats.bad_list_items == 6
            by_id = {e.order_id: e for e in entries}
            assert set(by_id) == set(fake.orders) | {"odd-extras"}
            assert by_id["odd-extras"].last_change is None
            assert by_id["odd-extras"].total_value_cents is None

    asyncio.run(go())


def test_stopping_early_cancels_outstanding_requests() -> None:
    async def go() -> None:
        async with FakeVtex(spread(2_000, DAY, DAY_END), delay=0.01) as fake:
            async with client(fake, concurrency=2) as c:
                pages = c.list_window("creationDate", DAY, DAY_END)
                async for _ in pages:
                    break
                await pages.aclose()  # type: ignore[attr-defined]
                await asyncio.sleep(0.1)
            # Page 1, then at most the two requests already in flight: the other 17 pages were never asked.
            assert len(fake.list_queries) <= 3

    asyncio.run(go())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="per_page"):
        VtexClient("http://127.0.0.1:1/x", SecretStr("k"), SecretStr("t"), per_page=101)

    async def go() -> None:
        async with VtexClient("http://127.0.0.1:1/x", SecretStr("k"), SecretStr("t")) as c:
            with pytest.raises(ValueError, match="starts after it ends"):
                await collect(c, DAY_END, DAY)
            with pytest.raises(ValueError, match="field"):
                await collect(c, DAY, DAY_END, "lastChange")
            with pytest.raises(ValueError, match="naive"):
                await collect(c, DAY.replace(tzinfo=None), DAY_END)

    asyncio.run(go())
