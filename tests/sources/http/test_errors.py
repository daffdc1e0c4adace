"""Retries, Retry-After, give-up, and how every failure is reported: over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from ordersync.errors import NotFoundError, SourceError, TransientSourceError
from ordersync.sources.http.transport import MalformedBodyError
from ordersync.sources.vtex import VtexClient
from support.fake_vtex import APP_KEY, APP_TOKEN, CUT, MALFORMED, FakeVtex, Fault, RecordingSleep, spread

DAY = datetime(2024, 5, 1, 3, tzinfo=UTC)
DAY_END = DAY + timedelta(days=1)


def client(fake: FakeVtex, sleep: RecordingSleep, **kwargs: object) -> VtexClient:
    return VtexClient(fake.base_url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), sleep=sleep, **kwargs)  # type: ignore[arg-type]


def with_fake(test: Callable[[FakeVtex, VtexClient, RecordingSleep], Awaitable[None]], **kwargs: object) -> None:
    async def go() -> None:
        sleep = RecordingSleep()
        async with FakeVtex(spread(120, DAY, DAY_END)) as fake, client(fake, sleep, **kwargs) as c:
            await test(fake, c, sleep)

    asyncio.run(go())


async def first_order(fake: FakeVtex, c: VtexClient) -> bytes:
    return await c.get_order(sorted(fake.orders)[0])


async def list_all(c: VtexClient) -> int:
    return sum([len(p) async for p in c.list_window("creationDate", DAY, DAY_END)])


def test_429_honours_retry_after_in_seconds_and_as_an_http_date() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        fake.get_faults.extend(
            [
                Fault(429, headers={"Retry-After": "2.5"}),
                Fault(429, headers={"Retry-After": in_30s}),
                Fault(429, headers={"Retry-After": "3600"}),  # capped at max_backoff
                Fault(429),  # no header: a backoff of its own
            ]
        )
        assert await first_order(fake, c)
        assert sleep.calls[0] == 2.5
        assert 28 <= sleep.calls[1] <= 30.5
        assert sleep.calls[2] == 45.0
        assert 0 < sleep.calls[3] <= 45.0
        assert len(sleep.calls) == 4
        assert c.stats.throttled == 4 and c.stats.retries == 4

    with_fake(test, max_backoff=45.0)


def test_5xx_timeouts_and_broken_bodies_back_off_exponentially() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.list_faults.extend([Fault(500), Fault(502), MALFORMED, CUT, Fault(504), Fault(503, delay=0.5)])
        assert await list_all(c) == 120
        assert len(sleep.calls) == 6 and c.stats.retries == 6 and c.stats.throttled == 0
        # Equal jitter: retry n waits between half and all of min(cap, base * 2**(n-1)).
        for n, wait in enumerate(sleep.calls, start=1):
            cap = min(4.0, 0.2 * 2 ** (n - 1))
            assert cap / 2 <= wait <= cap, (n, wait)

    with_fake(test, max_backoff=4.0, timeout=0.2)


def test_gives_up_after_max_retries() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.get_faults.extend(Fault(503) for _ in range(4))
        with pytest.raises(TransientSourceError, match="gave up after 3 retries") as info:
            await first_order(fake, c)
        assert info.value.status == 503
        assert len(sleep.calls) == 3 and c.stats.retries == 3
        assert fake.get_count == 4

    with_fake(test, max_retries=3)


def test_a_body_broken_and_never_whole_is_malformed_even_when_5xx_came_last() -> None:
    """An order whose body comes back broken, with 5xx in between, never once whole: a poison record
    for the quarantine (with the broken bytes), not a transient failure that blocks every run."""

    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.get_faults.extend([MALFORMED, Fault(502), MALFORMED, Fault(503)])
        with pytest.raises(MalformedBodyError, match="malformed body") as info:
            await first_order(fake, c)
        assert info.value.body == MALFORMED.body
        fake.get_faults.extend([Fault(502), Fault(503), Fault(502), Fault(503)])
        with pytest.raises(TransientSourceError) as only_5xx:
            await first_order(fake, c)
        assert not isinstance(only_5xx.value, MalformedBodyError)

    with_fake(test, max_retries=3)


def test_json_nested_too_deeply_is_a_malformed_body() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        deep = Fault(200, b"[" * 100_000 + b"]" * 100_000)
        fake.get_faults.extend([deep, deep, deep])
        with pytest.raises(MalformedBodyError):
            await first_order(fake, c)

    with_fake(test, max_retries=2)


def test_429s_never_count_against_max_retries() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.list_faults.extend(Fault(429, headers={"Retry-After": "7"}) for _ in range(5))
        fake.list_faults.extend([Fault(503), Fault(429), Fault(502)])
        assert await list_all(c) == 120
        assert sleep.calls[:5] == [7.0] * 5
        assert 0.1 <= sleep.calls[5] <= 0.2  # the 503: the first retry's backoff
        assert 0.5 <= sleep.calls[6] <= 1.0  # a 429 without Retry-After, counted afresh
        assert 0.2 <= sleep.calls[7] <= 0.4  # the 502: the second of the two retries allowed
        assert c.stats.throttled == 6 and c.stats.retries == 8
        assert c.stats.throttle_wait_seconds == pytest.approx(35.0 + sleep.calls[6])
        assert c.stats.pace_wait_seconds == 0.0

    with_fake(test, max_retries=2)


def test_429s_give_up_only_after_the_total_wait_cap() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.list_faults.extend(Fault(429, headers={"Retry-After": "7"}) for _ in range(10))
        with pytest.raises(TransientSourceError, match="still HTTP 429 after waiting 21s") as info:
            await list_all(c)
        assert "requests_per_minute" in str(info.value)
        assert info.value.status == 429 and info.value.retry_after == 7.0
        assert sleep.calls == [7.0, 7.0, 7.0]
        assert c.stats.throttled == 4 and c.stats.throttle_wait_seconds == 21.0

    with_fake(test, max_retries=0, max_throttle_wait=20.0)


def test_429s_that_say_retry_now_still_reach_the_cap() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.get_faults.extend(Fault(429, headers={"Retry-After": "0"}) for _ in range(50))
        with pytest.raises(TransientSourceError, match="still HTTP 429"):
            await first_order(fake, c)
        assert sleep.calls == [0.1] * 10 and fake.get_count == 11

    with_fake(test, max_throttle_wait=0.95)


def test_no_retries_at_all() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.get_faults.append(Fault(502))
        with pytest.raises(TransientSourceError, match="gave up after 0 retries"):
            await first_order(fake, c)
        assert sleep.calls == []

    with_fake(test, max_retries=0)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_fatal_and_never_show_the_secrets(status: int) -> None:
    async def go() -> None:
        sleep = RecordingSleep()
        async with FakeVtex(spread(5, DAY, DAY_END)) as fake:
            key, token = (APP_KEY, "tok-WRONG-secret-42") if status == 401 else (APP_KEY, APP_TOKEN)
            fake.forbidden = status == 403
            c = VtexClient(fake.base_url, SecretStr(key), SecretStr(token), sleep=sleep)
            async with c:
                with pytest.raises(SourceError) as info:
                    await list_all(c)
            err = info.value
            assert err.status == status and not isinstance(err, TransientSourceError)
            message = str(err)
            assert "app key" in message and "app token" in message
            assert '"List Orders"' in message and '"View order"' in message
            for text in (message, repr(err), repr(c), repr(err.__cause__), repr(err.__context__)):
                assert token not in text and key not in text
            assert sleep.calls == []

    asyncio.run(go())


def test_404_from_get_order_is_not_found() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        with pytest.raises(NotFoundError, match="ghost-01"):
            await c.get_order("ghost-01")
        assert sleep.calls == []

    with_fake(test)


def test_404_from_the_list_points_at_the_base_url() -> None:
    async def go() -> None:
        async with FakeVtex() as fake:
            c = VtexClient(fake.base_url + "-typo", SecretStr(APP_KEY), SecretStr(APP_TOKEN))
            async with c:
                with pytest.raises(SourceError, match="base URL") as info:
                    await list_all(c)
            assert info.value.status == 404 and not isinstance(info.value, NotFoundError)

    asyncio.run(go())


def test_other_4xx_is_fatal_with_the_servers_message() -> None:
    async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
        fake.list_faults.append(Fault(400, b'{"error": {"code": "OMS001", "message": "Invalid filter value"}}'))
        with pytest.raises(SourceError, match="HTTP 400: Invalid filter value") as info:
            await list_all(c)
        assert info.value.status == 400
        fake.get_faults.append(Fault(422, b"plain text complaint"))
        with pytest.raises(SourceError, match="HTTP 422: plain text complaint"):
            await first_order(fake, c)
        assert sleep.calls == []

    with_fake(test)


def test_redirects_are_not_followed() -> None:
    hits: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.headers.get("X-VTEX-API-AppToken", ""))
        return web.json_response({})

    async def go() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", elsewhere)
        async with TestServer(app, host="127.0.0.1") as other:
            target = str(other.make_url("/steal"))

            async def test(fake: FakeVtex, c: VtexClient, sleep: RecordingSleep) -> None:
                fake.get_faults.append(Fault(302, b"", headers={"Location": target}))
                with pytest.raises(SourceError, match="redirect") as info:
                    await first_order(fake, c)
                assert info.value.status == 302

            sleep = RecordingSleep()
            async with FakeVtex(spread(3, DAY, DAY_END)) as fake, client(fake, sleep) as c:
                await test(fake, c, sleep)
        assert hits == []

    asyncio.run(go())


def test_connection_refused_is_retried_then_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there

    async def go() -> None:
        sleep = RecordingSleep()
        c = VtexClient(f"http://127.0.0.1:{port}/store1", SecretStr("k"), SecretStr("t"), max_retries=2, sleep=sleep)
        async with c:
            with pytest.raises(TransientSourceError, match="gave up after 2 retries") as info:
                await c.get_order("v1-01")
        assert info.value.status is None
        assert len(sleep.calls) == 2

    asyncio.run(go())


def test_secrets_stay_out_of_reprs() -> None:
    c = VtexClient("http://127.0.0.1:1/store1", SecretStr(APP_KEY), SecretStr(APP_TOKEN))
    assert APP_TOKEN not in repr(c) and APP_KEY not in repr(c)
    assert APP_TOKEN not in repr(vars(c))
    assert APP_TOKEN not in repr(vars(c._http))
