"""The per-account pacer: exact waits on a fake clock, shared budgets, 429s that slow down and go on."""

from __future__ import annotations

import asyncio
import heapq
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.http.pacing import Pacer, account_key, forget, install, shared_pacer
from ordersync.sources.vtex import VtexClient
from support.fake_vtex import APP_KEY, APP_TOKEN, FakeVtex, Fault, RecordingSleep, spread
from support.properties import examples

DAY = datetime(2024, 5, 1, 3, tzinfo=UTC)
DAY_END = DAY + timedelta(days=1)
START = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fresh_key() -> Iterator[str]:
    """A pacer key of this test's own, dropped afterwards (the registry lives as long as the process)."""
    key = f"test-{uuid.uuid4()}"
    yield key
    forget(key)


def client(url: str, sleep: RecordingSleep, **kwargs: object) -> VtexClient:
    return VtexClient(url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), sleep=sleep, **kwargs)  # type: ignore[arg-type]


# The pacer alone, on a fake clock ------------------------------------------------------------------


def test_slots_follow_the_rate_after_a_small_burst() -> None:
    clock = FakeClock()
    pacer = Pacer(3000, burst_seconds=0.1, monotonic=clock)  # one request every 20 ms
    slots = [pacer.reserve() for _ in range(20)]
    for i, slot in enumerate(slots):
        expected = max(0.0, i * 0.02 - 0.1)  # six at once (0.1 s of the rate, plus one), then every 20 ms
        assert slot.wait == pytest.approx(expected)
        assert slot.start == pytest.approx(clock.t + expected)
        assert slot.held == 0.0
    assert sum(s.wait == 0 for s in slots) == 6


@settings(max_examples=examples(60), deadline=None)
@given(
    rpm=st.floats(60, 60_000),
    burst=st.floats(0, 1),
    gaps=st.lists(st.floats(0, 0.2), min_size=2, max_size=300),
)
def test_no_window_ever_holds_more_than_the_rate_and_its_burst(rpm: float, burst: float, gaps: list[float]) -> None:
    clock = FakeClock()
    pacer = Pacer(rpm, burst_seconds=burst, monotonic=clock)
    rate = rpm / 60
    starts = []
    for gap in gaps:
        clock.t += gap
        slot = pacer.reserve()
        assert slot.start >= clock.t and slot.wait == pytest.approx(slot.start - clock.t)
        starts.append(slot.start)
    assert starts == sorted(starts)
    for i in range(len(starts)):
        for j in range(i + 1, min(len(starts), i + 40)):
            assert j - i + 1 <= (starts[j] - starts[i]) * rate + burst * rate + 1 + 1e-6


def closed_loop(pacer: Pacer, clock: FakeClock, workers: int, latency: tuple[float, float], seconds: float) -> int:
    """Requests sent in `seconds` by `workers` that each reserve a slot, send at its start and reserve
    again when the answer comes back (after a random latency): a sync's fetch loop, in virtual time."""
    rng = random.Random(7)
    events = [(clock.t, w) for w in range(workers)]
    end = clock.t + seconds
    sent = 0
    while events:
        t, w = heapq.heappop(events)
        clock.t = t
        slot = pacer.reserve()
        if slot.start >= end:
            continue
        sent += 1
        heapq.heappush(events, (slot.start + rng.uniform(*latency), w))
    return sent


@settings(max_examples=examples(25), deadline=None)
@given(
    rpm=st.sampled_from([600.0, 3000.0, 6000.0, 12_000.0]),
    workers=st.integers(16, 48),
    slowest=st.floats(0.01, 0.12),
)
def test_a_busy_client_keeps_its_budget_full(rpm: float, workers: int, slowest: float) -> None:
    clock = FakeClock()
    pacer = Pacer(rpm, monotonic=clock)
    sent = closed_loop(pacer, clock, workers, (0.005, slowest), seconds=60)
    # At most the burst over the budget, and within 1% of it: the latency never leaves the budget idle.
    assert 0.99 * rpm <= sent <= rpm + 0.1 * rpm / 60 + 1


def test_a_429_cuts_the_rate_once_and_holds_every_client() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(6000, monotonic=clock)  # 100/s
    early = [pacer.reserve() for _ in range(20)]
    assert early[0].start == 0.0 and early[19].start == pytest.approx(0.09)
    clock.t = 0.05
    pacer.throttled(early[0].start, 2.0)
    assert pacer.cuts == 1 and pacer.requests_per_minute == pytest.approx(4200)
    clock.t = 0.06
    pacer.throttled(early[1].start, 2.0)  # sent before the cut: the same signal, no second cut
    assert pacer.cuts == 1 and pacer.requests_per_minute == pytest.approx(4200)
    # Slots reserved before the 429 but not yet sent are void; new ones wait out the hold.
    assert not pacer.valid(early[19]) and not pacer.valid(early[0])
    after = pacer.reserve()
    assert after.start == pytest.approx(2.06) and after.wait == pytest.approx(2.0)
    assert after.held == pytest.approx(2.0)  # all of it on hold
    assert pacer.valid(after)
    # No burst after the hold: the next slot is one interval of the cut rate later.
    clock.t = 2.06
    second = pacer.reserve()
    assert second.start == pytest.approx(2.06 + 60 / 4200) and second.held == 0.0
    clock.t = 2.2
    pacer.throttled(after.start, 1.0)  # sent after the cut and still too much: cut again
    assert pacer.cuts == 2 and pacer.requests_per_minute == pytest.approx(4200 * 0.7)


def test_the_rate_recovers_additively_up_to_the_budget_and_never_falls_below_the_floor() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(6000, monotonic=clock)
    pacer.throttled(0.5, 1.0)
    assert pacer.requests_per_minute == pytest.approx(4200)
    for _ in range(100):
        pacer.succeeded()
    assert pacer.requests_per_minute == pytest.approx(4200 + 100 * 6)
    for _ in range(1000):
        pacer.succeeded()
    assert pacer.requests_per_minute == 6000
    for n in range(40):
        clock.t = n + 1.0
        pacer.throttled(clock.t + 0.5, 0.0)
    assert pacer.cuts == 41 and pacer.requests_per_minute == pytest.approx(180)
    small = Pacer(60, monotonic=clock)
    small.throttled(clock.t + 1, 0.0)
    assert small.requests_per_minute == pytest.approx(60)  # the floor never exceeds the budget


def test_a_new_budget() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(3000, monotonic=clock)
    pacer.set_budget(6000)
    assert pacer.requests_per_minute == 6000  # not cut: follows the budget
    pacer.throttled(0.5, 0.0)
    pacer.set_budget(9000)
    assert pacer.requests_per_minute == pytest.approx(4200) and pacer.budget_per_minute == 9000
    pacer.set_budget(3000)
    assert pacer.requests_per_minute == 3000
    with pytest.raises(ValueError):
        pacer.set_budget(0)
    with pytest.raises(ValueError):
        Pacer(6000, decrease=1.0)


def test_clients_on_different_event_loops_share_one_timeline() -> None:
    pacer = Pacer(60_000, burst_seconds=0.01)  # the real clock: 1 ms apart
    t0 = pacer.now()
    barrier = threading.Barrier(3)
    starts: list[list[float]] = [[], [], []]

    def run(n: int) -> None:
        async def go() -> None:
            barrier.wait()
            for _ in range(300):
                starts[n].append(pacer.reserve().start)
                await asyncio.sleep(0)

        asyncio.run(go())

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = sorted(s for each in starts for s in each)
    assert len(merged) == 900
    # Every reservation took its own slot on one timeline: the i-th is at least i intervals in.
    for i, start in enumerate(merged):
        assert start >= t0 + i * 0.001 - 0.01 - 1e-9


def test_the_registry_keys_an_account_by_its_base_url() -> None:
    host = f"acct-{uuid.uuid4().hex[:8]}"
    url = f"https://{host}.vtexcommercestable.com.br"
    try:
        assert account_key(url + "/") == account_key(url.upper().replace("HTTPS", "https")) == account_key(url)
        assert account_key(f"https://{host}.vtexcommercestable.com.br:443") == account_key(url)
        assert account_key(url + "/store1") != account_key(url + "/store2")
        pacer = shared_pacer(account_key(url), 3000)
        assert shared_pacer(account_key(url + "/"), 3000) is pacer
        assert shared_pacer(account_key(url), 4000) is pacer and pacer.budget_per_minute == 4000
        mine = Pacer(100)
        install(account_key(url), mine)
        assert shared_pacer(account_key(url), 100) is mine
    finally:
        forget(account_key(url))


def test_clients_find_their_accounts_pacer(fresh_key: str) -> None:
    sleep = RecordingSleep()
    url = f"http://127.0.0.1:1/{uuid.uuid4().hex}"
    try:
        one = client(url, sleep, requests_per_minute=3000)
        two = client(url + "/", sleep, requests_per_minute=3000)
        assert one.pacer is not None and one.pacer is two.pacer
        assert client(url, sleep).pacer is None
        keyed = client(url, sleep, requests_per_minute=3000, pacer_key=fresh_key)
        other = client("http://127.0.0.1:2/x", sleep, requests_per_minute=3000, pacer_key=fresh_key)
        assert keyed.pacer is other.pacer and keyed.pacer is not one.pacer
        with pytest.raises(ValueError):
            client(url, sleep, requests_per_minute=0)
    finally:
        forget(account_key(url))


# Paced clients over real HTTP ----------------------------------------------------------------------


def test_two_clients_of_one_account_share_its_budget(fresh_key: str) -> None:
    clock = FakeClock()
    install(fresh_key, Pacer(600, burst_seconds=0.1, monotonic=clock))  # every 0.1 s; the clock stands still

    async def go() -> None:
        async with FakeVtex(spread(40, DAY, DAY_END)) as fake:
            ids = sorted(fake.orders)
            sleeps = [RecordingSleep(), RecordingSleep()]
            clients = [
                client(fake.base_url, sleep, requests_per_minute=600, pacer_key=fresh_key, concurrency=4)
                for sleep in sleeps
            ]

            async def fetch(c: VtexClient, part: list[str]) -> int:
                async with c:
                    return sum([isinstance(body, bytes) async for _, body in c.get_orders(part)])

            assert list(await asyncio.gather(fetch(clients[0], ids[:20]), fetch(clients[1], ids[20:]))) == [20, 20]
            # One timeline for both: the k-th of the 40 requests waits k - 1 intervals (two go at
            # once). Two budgets would have given each client the first 20 of these waits.
            waits = sorted(sleeps[0].calls + sleeps[1].calls)
            assert waits == pytest.approx([(k - 1) * 0.1 for k in range(2, 40)])
            paced = sum(c.stats.pace_wait_seconds for c in clients)
            assert paced == pytest.approx(sum(waits))
            assert all(c.stats.throttled == 0 and c.stats.throttle_wait_seconds == 0 for c in clients)
            assert fake.get_count == 40

    asyncio.run(go())


def test_retry_after_holds_the_account_and_a_429_without_it_backs_off(fresh_key: str) -> None:
    clock = FakeClock()
    pacer = Pacer(6000, monotonic=clock)
    install(fresh_key, pacer)

    async def go() -> None:
        async with FakeVtex(spread(5, DAY, DAY_END)) as fake:
            sleep = RecordingSleep()
            ids = sorted(fake.orders)
            c = client(fake.base_url, sleep, requests_per_minute=6000, pacer_key=fresh_key, max_retries=0)
            async with c:
                fake.get_faults.append(Fault(429, headers={"Retry-After": "2.5"}))
                assert await c.get_order(ids[0])
                assert sleep.calls == [pytest.approx(2.5)]
                assert c.stats.throttle_wait_seconds == pytest.approx(2.5) and c.stats.pace_wait_seconds == 0
                assert pacer.cuts == 1
                clock.t += 10  # the hold is over
                fake.get_faults.append(Fault(429))
                assert await c.get_order(ids[1])
                backoff = sleep.calls[1]
                assert 0.5 <= backoff <= 1.0  # the first throttle backoff, with jitter
                assert c.stats.throttle_wait_seconds == pytest.approx(2.5 + backoff)
                assert c.stats.throttled == 2 and c.stats.retries == 2 and pacer.cuts == 2

    asyncio.run(go())


def test_a_429_burst_slows_the_account_and_every_request_succeeds(fresh_key: str) -> None:
    async def go() -> None:
        async with FakeVtex(spread(60, DAY, DAY_END)) as fake:
            # Every request of the first round is refused: the account is over its limit.
            fake.get_faults.extend(Fault(429, headers={"Retry-After": "1"}) for _ in range(8))
            sleep = RecordingSleep()
            c = client(
                fake.base_url, sleep, requests_per_minute=6000, pacer_key=fresh_key, max_retries=0, concurrency=8
            )
            async with c:
                results = [body async for _, body in c.get_orders(sorted(fake.orders))]
            assert len(results) == 60 and all(isinstance(body, bytes) for body in results)
            assert c.stats.throttled == 8 and c.stats.retries == 8 and fake.get_count == 68
            pacer = c.pacer
            assert pacer is not None
            # One cut for the round, not one per 429; then 60 answers won back 60 x 0.1% of the budget.
            assert pacer.cuts == 1
            assert pacer.requests_per_minute == pytest.approx(6000 * 0.7 + 60 * 6)
            # Each of the eight retries waited out the account's hold, and so did every later request.
            assert c.stats.throttle_wait_seconds >= 8 * 0.9

    asyncio.run(go())


def test_against_the_simulators_limiter_a_budget_over_it_backs_off_and_finishes(fresh_key: str) -> None:
    config = SimulatorConfig(
        port=0,
        seed=11,
        accounts=[AccountSpec("store1", 70)],
        days=1,
        start=START,
        speed=0.0,
        index_lag_seconds=0,
        rate_limit_per_minute=1200,  # 20/s, one second of burst
    )
    with start_in_thread(config) as sim:
        truth = {o["orderId"] for o in sim.truth("store1")}

        async def go() -> None:
            c = VtexClient(
                sim.base_url("store1"),
                SecretStr(config.app_key),
                SecretStr(config.app_token),
                requests_per_minute=2400,  # twice what the account allows
                pacer_key=fresh_key,
                max_retries=0,
            )
            async with c:
                ids = {e.order_id async for page in c.list_window("creationDate", START - WEEK, START) for e in page}
                assert ids == truth
                got = [body async for _, body in c.get_orders(sorted(ids))]
            assert all(isinstance(body, bytes) for body in got)
            requests = c.stats.list_calls + c.stats.get_calls + c.stats.retries
            assert c.stats.throttled > 0 and c.pacer is not None and c.pacer.cuts >= 1
            assert c.pacer.requests_per_minute < 2400
            assert c.stats.throttled < requests / 3
            assert c.stats.throttle_wait_seconds > 0

        asyncio.run(go())
