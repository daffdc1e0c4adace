"""The source side of a trial: the simulator in its own process, and a fault proxy in front of it.

The simulator injects random per-request faults by itself (5xx, slow answers, truncated bodies: all
transient, a retry gets a good answer). It has no way to make one order's body stay broken, nor to
answer 429 in bursts, nor to serve an arbitrary body for an order; the proxy adds those, per order
id, while passing every other request through unchanged. It can also time a fault by what the client
asked for instead of by the clock: kill the client as its n-th get-order arrives, or hold every
get-order after the n-th until released (the client is then surely in the middle of its run).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from chaoslib.deadlines import scaled
from chaoslib.secrets import APP_KEY, APP_TOKEN
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import RunningSimulator, start_in_subprocess

# A weekday afternoon, far from the Sunday 02:00 full sync.
START = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)

BodyFn = Callable[[bytes], bytes]


def simulator(
    workdir: Path,
    accounts: list[tuple[str, float]],
    *,
    days: float,
    seed: int,
    fault_rate: float = 0.0,
    rate_limit_per_minute: float = 0.0,
    index_lag_seconds: float = 240.0,
    start: datetime = START,
) -> RunningSimulator:
    """A simulator child process (frozen clock) holding the given stores; its log is in the workdir."""
    config = SimulatorConfig(
        port=0,
        seed=seed,
        days=days,
        speed=0.0,
        start=start,
        index_lag_seconds=index_lag_seconds,
        fault_rate=fault_rate,
        rate_limit_per_minute=rate_limit_per_minute,
        accounts=[AccountSpec(name, per_day) for name, per_day in accounts],
        app_key=APP_KEY,
        app_token=APP_TOKEN,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "simulator.log").open("ab")
    try:
        return start_in_subprocess(config, timeout=scaled(120), stderr=log)
    finally:
        log.close()  # the child holds its own descriptor


def settle(sim: RunningSimulator) -> datetime:
    """Stop the source changing, then move past the index lag and ordersync's margin: from now on
    the list shows exactly the truth. Returns the simulated now."""
    sim.quiesce()
    return sim.advance(20 * 60)


def sim_faults(sim: RunningSimulator) -> int:
    faults: dict[str, int] = sim.stats().get("faults", {})
    return sum(faults.values())


class ChaosProxy:
    """An HTTP proxy in a thread of the harness: per order id body rewrites (a poison order stays
    broken for good), 429 bursts, extra latency. Counts what it injected in `injected`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.bodies: dict[str, BodyFn] = {}  # order id -> what its get-order body becomes
        self.burst_every = 0.0  # seconds between the starts of two 429 bursts (0: none)
        self.burst_seconds = 0.0
        self.delay = 0.0  # added to every get-order answer
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.gets = 0  # get-order requests seen
        self._kill: tuple[int, Callable[[], bool], threading.Event] | None = None
        self._hold_after: int | None = None
        self._gate: asyncio.Event | None = None
        self.holding = threading.Event()  # set once a get-order waits at the gate
        self._began = time.monotonic()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._serve, name="chaos-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(scaled(30)):
            raise RuntimeError(f"the chaos proxy did not start within {scaled(30):g} s")

    def base_url(self, account: str) -> str:
        return f"{self.url}/{account}"

    def kill_at_get(self, n: int, kill: Callable[[], bool]) -> threading.Event:
        """Call `kill` (from the proxy's thread) as the n-th get-order from now arrives, before it is
        passed on (it is answered 502: nobody reads it). The event is set once `kill` returned."""
        fired = threading.Event()
        self._kill = (self.gets + n, kill, fired)
        return fired

    def disarm(self) -> None:
        self._kill = None

    def hold_after(self, n: int) -> None:
        """Hold every get-order after the n-th from now until `release()`; `holding` is set when
        the first one waits."""
        self.holding.clear()
        self._hold_after = self.gets + n

    def release(self) -> None:
        self._hold_after = None
        if self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._gate = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(runner, sock).start()
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as self._session:
            self._ready.set()
            await self._stop.wait()
        await runner.cleanup()

    def _in_burst(self) -> bool:
        if self.burst_every <= 0:
            return False
        return (time.monotonic() - self._began) % self.burst_every < self.burst_seconds

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        parts = request.path.split("/")
        is_api = len(parts) >= 6 and parts[2:6] == ["api", "oms", "pvt", "orders"]
        order_id = parts[6] if is_api and len(parts) == 7 else None
        if is_api and self._in_burst():
            self.injected["429 burst"] += 1
            body = b'{"error":{"code":"429","message":"too many requests (burst)","exception":null}}'
            return web.Response(status=429, body=body, content_type="application/json", headers={"Retry-After": "1"})
        if order_id is not None:
            self.gets += 1
            kill = self._kill
            if kill is not None and self.gets >= kill[0]:
                self._kill = None
                await asyncio.get_running_loop().run_in_executor(None, kill[1])
                kill[2].set()
                self.injected["client killed"] += 1
                return web.json_response({"detail": "bad gateway (the client was killed)"}, status=502)
            if self._hold_after is not None and self.gets > self._hold_after and self._gate is not None:
                self._gate.clear()
                self.holding.set()
                await self._gate.wait()
        if order_id is not None and self.delay > 0:
            await asyncio.sleep(self.delay)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("x-vtex-api-appkey", "x-vtex-api-apptoken", "content-type", "accept")
        }
        data = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=data or None
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() == "retry-after"}
            content_type = upstream.headers.get("Content-Type", "application/json")
        rewrite = self.bodies.get(order_id) if order_id is not None else None
        if rewrite is not None and status == 200:
            self.injected["rewritten body"] += 1
            payload = rewrite(payload)
        response = web.Response(status=status, body=payload, headers=out_headers)
        response.headers["Content-Type"] = content_type
        return response

    def close(self) -> None:
        if self._stop is not None:
            self.release()
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=scaled(30))
        with suppress(Exception):
            self._loop.close()

    def __enter__(self) -> ChaosProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_order(sim: RunningSimulator, account: str, order_id: str) -> bytes:
    """One order's get-order body straight from the simulator (no faults: it retries them)."""
    request = urllib.request.Request(
        f"{sim.base_url(account)}/api/oms/pvt/orders/{order_id}",
        headers={"X-VTEX-API-AppKey": APP_KEY, "X-VTEX-API-AppToken": APP_TOKEN},
    )
    for _ in range(50):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body: bytes = response.read()
            orjson.loads(body)  # the simulator may truncate a body as a fault: fetch again
            return body
        except (urllib.error.HTTPError, orjson.JSONDecodeError):
            time.sleep(0.05)
    raise RuntimeError(f"could not fetch order {order_id} from the simulator")


def truth(sim: RunningSimulator, account: str) -> list[dict[str, Any]]:
    return sim.truth(account)
