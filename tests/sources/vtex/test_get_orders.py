"""get_order and get_orders: bodies, per-order failures, bounded concurrency."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import SecretStr

from ordersync.errors import NotFoundError, SourceError, TransientSourceError
from ordersync.sources.http.transport import MalformedBodyError
from ordersync.sources.vtex import VtexClient
from support.fake_vtex import APP_KEY, APP_TOKEN, CUT, MALFORMED, FakeOrder, FakeVtex, Fault, RecordingSleep, spread

DAY = datetime(2024, 5, 1, 3, tzinfo=UTC)


def client(fake: FakeVtex, **kwargs: object) -> VtexClient:
    kwargs.setdefault("sleep", RecordingSleep())
    return VtexClient(fake.base_url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), **kwargs)  # type: ignore[arg-type]


def orders(n: int) -> list[FakeOrder]:
    return spread(n, DAY, DAY + timedelta(days=1))


def test_get_order_returns_the_raw_body() -> None:
    async def go() -> None:
        async with FakeVtex(orders(1)) as fake, client(fake) as c:
            (order_id,) = fake.orders
            body = await c.get_order(order_id)
            assert isinstance(body, bytes)
            doc = orjson.loads(body)
            assert isinstance(doc, dict) and doc["orderId"] == order_id
            assert c.stats.get_calls == 1 and c.stats.retries == 0

    asyncio.run(go())


def test_order_ids_are_escaped_in_the_path() -> None:
    marketplace, odd = "SCP-880102018018-01", "a/b c"

    async def go() -> None:
        async with FakeVtex([FakeOrder(marketplace, DAY), FakeOrder(odd, DAY)]) as fake, client(fake) as c:
            assert orjson.loads(await c.get_order(marketplace))["orderId"] == marketplace
            assert orjson.loads(await c.get_order(odd))["orderId"] == odd

    asyncio.run(go())


def test_get_orders_yields_404_and_malformed_per_order_and_the_rest_come_through() -> None:
    async def go() -> None:
        async with FakeVtex(orders(50)) as fake, client(fake, max_retries=3) as c:
            ids = sorted(fake.orders)
            fake.broken.add(ids[7])
            fake.order_faults[ids[8]] = deque([MALFORMED, CUT])
            results = {oid: body async for oid, body in c.get_orders([*ids, "ghost-01"])}
            assert set(results) == {*ids, "ghost-01"}
            assert isinstance(results["ghost-01"], NotFoundError)
            broken = results[ids[7]]
            assert isinstance(broken, MalformedBodyError)
            assert isinstance(broken, TransientSourceError) and broken.status == 200
            assert "gave up after 3 retries" in str(broken)
            assert broken.body == MALFORMED.body  # the last answer's raw bytes, for the quarantine
            for oid in ids[:7] + ids[8:]:
                body = results[oid]
                assert isinstance(body, bytes), (oid, body)
                assert orjson.loads(body)["orderId"] == oid
            assert c.stats.get_calls == 51
            assert c.stats.retries == 3 + 2

    asyncio.run(go())


def test_get_orders_raises_when_the_api_stays_down() -> None:
    async def go() -> None:
        async with FakeVtex(orders(5)) as fake, client(fake, max_retries=2, concurrency=1) as c:
            fake.get_faults.extend(Fault(503) for _ in range(100))
            with pytest.raises(TransientSourceError) as info:
                async for _ in c.get_orders(sorted(fake.orders)):
                    pass
            assert info.value.status == 503

    asyncio.run(go())


def test_get_orders_accepts_any_iterable_and_nothing() -> None:
    async def go() -> None:
        async with FakeVtex(orders(30)) as fake, client(fake, concurrency=3) as c:
            got = [oid async for oid, _ in c.get_orders(oid for oid in sorted(fake.orders))]
            assert sorted(got) == sorted(fake.orders)
            assert [x async for x in c.get_orders([])] == []

    asyncio.run(go())


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_concurrency_never_exceeds_the_limit(concurrency: int) -> None:
    async def go() -> None:
        async with FakeVtex(orders(3_000), delay=0.002) as fake, client(fake, concurrency=concurrency) as c:
            n = 0
            async for _, body in c.get_orders(sorted(fake.orders)[:200]):
                assert isinstance(body, bytes)
                n += 1
            assert n == 200
            assert fake.max_in_flight == concurrency

            # Listing shares the same budget: 30 pages, fetched concurrently.
            fake.max_in_flight = 0
            async for _ in c.list_window("creationDate", DAY, DAY + timedelta(days=1)):
                pass
            assert fake.max_in_flight == concurrency

    asyncio.run(go())


def test_listing_and_fetching_at_once_share_the_limit() -> None:
    async def go() -> None:
        async with FakeVtex(orders(2_500), delay=0.002) as fake, client(fake, concurrency=5) as c:

            async def fetch_all() -> int:
                return len([x async for x in c.get_orders(sorted(fake.orders)[:150])])

            async def list_all() -> int:
                return sum([len(p) async for p in c.list_window("creationDate", DAY, DAY + timedelta(days=1))])

            fetched, listed = await asyncio.gather(fetch_all(), list_all())
            assert (fetched, listed) == (150, 2_500)
            assert fake.max_in_flight <= 5

    asyncio.run(go())


def test_auth_failure_raises_for_the_whole_call() -> None:
    async def go() -> None:
        async with FakeVtex(orders(10)) as fake:
            wrong = VtexClient(fake.base_url, SecretStr(APP_KEY), SecretStr("tok-WRONG-secret-42"))
            async with wrong as c:
                with pytest.raises(SourceError) as info:
                    async for _ in c.get_orders(sorted(fake.orders)):
                        pass
            assert info.value.status == 401
            assert not isinstance(info.value, TransientSourceError)
            assert "tok-WRONG-secret-42" not in str(info.value)

    asyncio.run(go())


def test_closed_client_refuses_requests() -> None:
    async def go() -> None:
        c = VtexClient("http://127.0.0.1:1/x", SecretStr("k"), SecretStr("t"))
        with pytest.raises(RuntimeError, match="async with"):
            await c.get_order("v1-01")

    asyncio.run(go())
