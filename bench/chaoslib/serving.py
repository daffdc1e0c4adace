"""`ordersync serve` as a child process the harness kills and restarts on the same port, and a relay
in front of it that can kill it the moment it has answered a request.

The relay plays the load balancer a real deployment has before its server: it passes every request
through; while serve is down it answers 502 (the clients retry). Armed, it SIGKILLs serve as soon
as serve has answered 200, then passes that answer on (the client saw it: a Hook delivery counts as
delivered) or answers 502 instead (the answer was lost: the client sends the request again). In
front of a store instead, it can kill the client that sends a request before passing it on (a feed
consumer killed before its commit reaches the store).
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
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from chaoslib.commands import Cli, Running
from chaoslib.deadlines import scaled

_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


class ServeProcess:
    """One `ordersync serve --no-worker` on a fixed port, started again after every kill."""

    def __init__(self, cli: Cli, port: int, env: dict[str, str] | None = None) -> None:
        self.cli = cli
        self.port = port
        self.env = env or {}
        self.url = f"http://127.0.0.1:{port}"
        self.running: Running | None = None
        self.starts = 0
        self.kills = 0
        self._lock = threading.Lock()

    def start(self, timeout: float = 60.0) -> None:
        """Spawn serve and wait until /v1/health answers (`timeout` seconds, scaled); RuntimeError
        with its output if it does not (it is SIGKILLed then)."""
        with self._lock:
            self.starts += 1
            args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-worker"]
            self.running = self.cli.spawn(args, name=f"serve-{self.starts}", env=self.env)
            running = self.running
        limit = scaled(timeout)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not running.alive():
                raise RuntimeError(f"serve exited {running.proc.returncode} on start: {_tail(running.output())}")
            if self.healthy():
                return
            time.sleep(0.05)
        running.kill()
        raise RuntimeError(f"serve did not answer /v1/health within {limit:g} s: {_tail(running.output())}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def alive(self) -> bool:
        return self.running is not None and self.running.alive()

    def kill(self) -> bool:
        """SIGKILL serve (from any thread) and reap it; False when it was not running."""
        with self._lock:
            running = self.running
            if running is None or not running.alive():
                return False
            running.kill()
            self.kills += 1
            return True

    def stop(self, timeout: float = 90.0) -> int | None:
        """SIGTERM (the server finishes what it is doing); the exit code, None when it was not running."""
        with self._lock:
            running = self.running
        if running is None:
            return None
        if not running.alive():
            return running.proc.returncode
        return running.stop(timeout=timeout)

    def output(self) -> str:
        return "" if self.running is None else self.running.output()


Match = Callable[[str, str], bool]  # (method, path) of a request


@dataclass
class _Arming:
    matches: Match
    pass_answer: bool
    before: bool
    fired: threading.Event


class KillRelay:
    """An HTTP relay in a thread of the harness, in front of `upstream`; `kill` is called from its
    thread when an armed relay sees its request. Counts what it saw in `counts`."""

    def __init__(self, upstream: str, kill: Callable[[], bool]) -> None:
        self.upstream = upstream.rstrip("/")
        self.kill = kill
        self.counts: Counter[str] = Counter()
        self._armed: _Arming | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._serve, name="chaos-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(scaled(30)):
            raise RuntimeError(f"the relay did not start within {scaled(30):g} s")

    def arm(self, matches: Match, *, pass_answer: bool = False, before: bool = False) -> threading.Event:
        """Kill after the next 200 to a request that `matches` (the answer then goes on to the
        client, or is replaced by a 502), or with `before` as that request arrives, before passing
        it on (it is answered 502). The event is set once the kill was made."""
        arming = _Arming(matches, pass_answer, before, threading.Event())
        self._armed = arming
        return arming.fired

    def disarm(self) -> None:
        self._armed = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(runner, sock).start()
        timeout = aiohttp.ClientTimeout(total=120)
        # a new connection per request: a killed server's pooled connections would fail the next one
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False, connector=connector) as session:
            self._session = session
            self._ready.set()
            await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        data = await request.read()
        armed = self._armed
        if armed is not None and armed.before and armed.matches(request.method, request.path):
            self._armed = None
            await asyncio.get_running_loop().run_in_executor(None, self.kill)
            armed.fired.set()
            self.counts["killed before passing on"] += 1
            return _bad_gateway("the sender was killed")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=data or None
            ) as upstream:
                payload = await upstream.read()
                status = upstream.status
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
                replayed = upstream.headers.get("Idempotent-Replayed") == "true"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.counts["502: serve down or cut off"] += 1
            return _bad_gateway(f"upstream: {type(exc).__name__}")
        self.counts[f"{status}"] += 1
        if replayed:
            self.counts["replayed"] += 1
        armed = self._armed
        if armed is not None and not armed.before and status == 200 and armed.matches(request.method, request.path):
            self._armed = None
            killed = await asyncio.get_running_loop().run_in_executor(None, self.kill)
            armed.fired.set()
            if killed and not armed.pass_answer:
                self.counts["answer lost"] += 1
                return _bad_gateway("upstream answered, then died")
        response = web.Response(status=status, body=payload, headers=out)
        return response

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=scaled(30))
        with suppress(Exception):
            self._loop.close()

    def __enter__(self) -> KillRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bad_gateway(detail: str) -> web.Response:
    return web.json_response({"detail": f"bad gateway ({detail})"}, status=502)


def _tail(text: str, n: int = 600) -> str:
    return " ".join(text.split())[-n:]
