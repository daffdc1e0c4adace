"""Running the simulator: blocking, in a background thread, or in a child process."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import IO, Any

import uvicorn

from ordersync.dates import parse_vtex_datetime
from ordersync.serve.sockets import bind_socket, socket_url
from ordersync.simulator.app import SimulatorApp, build_app
from ordersync.simulator.config import SimulatorConfig

READY_EVENT = "ready"


def uvicorn_config(app: SimulatorApp) -> uvicorn.Config:
    """One worker on uvloop + httptools; no access log, no logging setup of its own."""
    return uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",  # shutdown stops the hook worker and closes its HTTP session
        interface="asgi3",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=2048,
    )


def serve(config: SimulatorConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted; `on_ready` gets the base URL once the port is bound."""
    app = build_app(config)
    sock = bind_socket(config.host, config.port)
    if on_ready is not None:
        on_ready(socket_url(sock))
    try:
        uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
    finally:
        sock.close()


class RunningSimulator:
    """A simulator serving in the background, with its control endpoints as methods."""

    def __init__(
        self,
        url: str,
        accounts: list[str],
        stopper: Callable[[], None],
        *,
        pid: int | None = None,
        app: SimulatorApp | None = None,
    ) -> None:
        self.url = url
        self.accounts = accounts
        self.pid = pid
        self.app = app  # set when serving in this process
        self._stopper = stopper
        self._stopped = False

    def base_url(self, account: str) -> str:
        """The account's API base URL: its list endpoint is base_url + /api/oms/pvt/orders."""
        return f"{self.url}/{account}"

    def control(self, method: str, route: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_simulator/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def clock_info(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "clock")
        return result

    def clock(self) -> datetime:
        return parse_vtex_datetime(self.clock_info()["now"])

    def advance(self, seconds: float) -> datetime:
        result = self.control("POST", "clock", {"advance_seconds": seconds})
        return parse_vtex_datetime(result["now"])

    def set_speed(self, speed: float) -> None:
        self.control("POST", "clock", {"speed": speed})

    def quiesce(self) -> datetime:
        """Stop new orders and lifecycle changes from the current simulated moment on."""
        result = self.control("POST", "quiesce", {})
        return parse_vtex_datetime(result["quiesced_at"])

    def truth(self, account: str) -> list[dict[str, Any]]:
        """Every order that exists now, as it stands now (not lagged)."""
        query = urllib.parse.urlencode({"account": account})
        orders: list[dict[str, Any]] = self.control("GET", f"truth?{query}", timeout=600)["orders"]
        return orders

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "info")
        return result

    def events(self) -> dict[str, Any]:
        """Feeds (queue sizes, counters) and hooks (deliveries attempted, succeeded, failed, dropped, pending)."""
        result: dict[str, Any] = self.control("GET", "events")
        return result

    def set_event_settings(self, **settings: float) -> dict[str, Any]:
        """Change feed and hook knobs: duplicate_rate, visibility_timeout_seconds, hook_retry_base_seconds, ..."""
        result: dict[str, Any] = self.control("POST", "events/settings", dict(settings))
        return result

    def wait_for_hooks(self, timeout: float = 10.0, pending: int = 0) -> dict[str, Any]:
        """Wait until at most `pending` hook deliveries are left; returns the hooks' counters."""
        deadline = time.monotonic() + timeout
        while True:
            hooks: dict[str, Any] = self.events()["hooks"]
            if hooks["pending"] <= pending:
                return hooks
            if time.monotonic() > deadline:
                raise TimeoutError(f"{hooks['pending']} hook deliveries still pending after {timeout} s: {hooks}")
            time.sleep(0.02)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stopper()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _wait_until_answering(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_simulator/clock", timeout=5) as response:
                response.read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_in_thread(config: SimulatorConfig, timeout: float = 60.0) -> RunningSimulator:
    """Serve from a daemon thread of this process; returns once requests are answered."""
    app = build_app(config)
    sock = bind_socket(config.host, config.port)
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ordersync-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("the simulator thread stopped during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise TimeoutError(f"the simulator did not start within {timeout} s")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

    url = socket_url(sock)
    _wait_until_answering(url, deadline)
    return RunningSimulator(url, [a.name for a in config.accounts], stop, app=app)


def config_to_args(config: SimulatorConfig) -> list[str]:
    """Command-line flags of `python -m ordersync.simulator` that reproduce this config."""
    args = [
        "--host", config.host,
        "--port", str(config.port),
        "--seed", str(config.seed),
        "--days", repr(config.days),
        "--index-lag-seconds", repr(config.index_lag_seconds),
        "--fault-rate", repr(config.fault_rate),
        "--rate-limit-per-minute", repr(config.rate_limit_per_minute),
        "--app-key", config.app_key,
        "--app-token", config.app_token,
        "--speed", repr(config.speed),
        "--event-duplicate-rate", repr(config.event_duplicate_rate),
        "--feed-visibility-timeout-seconds", str(config.feed_visibility_timeout_seconds),
        "--hook-timeout-seconds", repr(config.hook_timeout_seconds),
        "--hook-retry-base-seconds", repr(config.hook_retry_base_seconds),
        "--hook-retry-factor", repr(config.hook_retry_factor),
        "--hook-retry-max-seconds", repr(config.hook_retry_max_seconds),
        "--hook-max-attempts", str(config.hook_max_attempts),
    ]  # fmt: skip
    if config.start is not None:
        args += ["--start", config.start.isoformat()]
    for spec in config.accounts:
        args += ["--account", spec.as_arg()]
    return args


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def start_in_subprocess(
    config: SimulatorConfig, timeout: float = 120.0, stderr: int | IO[Any] | None = None
) -> RunningSimulator:
    """Serve from `python -m ordersync.simulator` in a child process; returns once it answers."""
    command = [sys.executable, "-m", "ordersync.simulator", *config_to_args(config)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    # Keep draining stdout for the child's whole life so it can never block on a full pipe.
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)

    deadline = time.monotonic() + timeout
    url: str | None = None
    try:
        while url is None:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"the simulator did not start within {timeout} s") from None
            if line is None:
                raise RuntimeError(f"the simulator exited during startup with code {proc.wait()}")
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == READY_EVENT:
                    url = str(event["url"])
        _wait_until_answering(url, deadline)
    except BaseException:
        stop()
        raise
    return RunningSimulator(url, [a.name for a in config.accounts], stop, pid=proc.pid)
