"""This process's own metrics, in Prometheus' terms: what only the process that did something knows.

Each is counted at one place: store requests, 429s and retries in the HTTP transport's one request
path (sources/http/transport.py), lease take-overs where a lease is taken (coordination/leases.py),
run durations where a leased run ends (sync/tenant_run.py), builds in the build (transform/build.py),
landings in the one landing call (land/lander.py), pushes at the push route (web/), feed lag after
each feed round (sources/vtex/feed.py). What the warehouse holds (runs, versions, quarantine, ...) is
not here: serve reads it at scrape time (observe/warehouse_metrics.py), so nothing is counted twice
across processes. Histograms carry no tenant label (a series per tenant and bucket would not scale).

Nothing is recorded until `enable()`: only a process that exposes its metrics (serve, `worker
--metrics-port`) pays for them, and a command that exposes none never imports prometheus_client.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: seconds: a run or a build takes seconds to an hour; a landing or a push milliseconds to seconds
_LONG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
_SHORT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: the status label of a store request that got no answer (timeout, connection refused or cut)
NO_ANSWER = "error"


@dataclass(frozen=True)
class Meters:
    registry: CollectorRegistry
    store_requests: Counter
    store_throttled: Counter
    store_retries: Counter
    lease_takeovers: Counter
    run_seconds: Histogram
    build_seconds: Histogram
    landing_seconds: Histogram
    push_seconds: Histogram
    push_refused: Counter
    feed_lag: Gauge


_meters: Meters | None = None
_lock = threading.Lock()


def enable() -> Meters:
    """Start recording (once per process; later calls return the same meters)."""
    global _meters
    with _lock:
        if _meters is None:
            _meters = _create()
        return _meters


def enabled() -> Meters | None:
    return _meters


def _create() -> Meters:
    import prometheus_client as pc  # kept off start-up: only a process that exposes metrics loads it

    r = pc.CollectorRegistry(auto_describe=True)
    pc.ProcessCollector(registry=r)
    return Meters(
        registry=r,
        store_requests=pc.Counter(
            "ordersync_store_requests",
            "Requests to the stores' APIs, each attempt by its answer's HTTP status ('error': no answer)",
            ["endpoint", "status"],
            registry=r,
        ),
        store_throttled=pc.Counter(
            "ordersync_store_throttled", "Store requests answered 429 (too many requests)", ["endpoint"], registry=r
        ),
        store_retries=pc.Counter(
            "ordersync_store_retries",
            "Store requests sent again (after a 429, a 5xx, a timeout)",
            ["endpoint"],
            registry=r,
        ),
        lease_takeovers=pc.Counter(
            "ordersync_lease_takeovers",
            "Leases taken from another holder whose lease ran out or whose process is gone",
            ["stream"],
            registry=r,
        ),
        run_seconds=pc.Histogram(
            "ordersync_run_seconds",
            "Pull runs by mode and outcome",
            ["mode", "outcome"],
            buckets=_LONG_BUCKETS,
            registry=r,
        ),
        build_seconds=pc.Histogram(
            "ordersync_build_seconds", "dbt builds by outcome", ["outcome"], buckets=_LONG_BUCKETS, registry=r
        ),
        landing_seconds=pc.Histogram(
            "ordersync_landing_seconds",
            "Landing calls (one batch of versions) by source",
            ["source"],
            buckets=_SHORT_BUCKETS,
            registry=r,
        ),
        push_seconds=pc.Histogram(
            "ordersync_push_seconds", "Push requests by HTTP status", ["status"], buckets=_SHORT_BUCKETS, registry=r
        ),
        push_refused=pc.Counter(
            "ordersync_push_refused", "Push bodies refused, by HTTP status (4xx)", ["status"], registry=r
        ),
        feed_lag=pc.Gauge(
            "ordersync_feed_lag_seconds",
            "Per tenant, at its last feed round here: how long the oldest change it read had waited (0: none waited)",
            ["tenant"],
            registry=r,
        ),
    )


# -- the instrumentation points: each a no-op until enable() ----------------------------------
def store_request(endpoint: str, status: int | None) -> None:
    if (m := _meters) is not None:
        m.store_requests.labels(endpoint, NO_ANSWER if status is None else str(status)).inc()


def store_throttled(endpoint: str) -> None:
    if (m := _meters) is not None:
        m.store_throttled.labels(endpoint).inc()


def store_retry(endpoint: str) -> None:
    if (m := _meters) is not None:
        m.store_retries.labels(endpoint).inc()


def lease_takeover(stream: str) -> None:
    if (m := _meters) is not None:
        m.lease_takeovers.labels(stream).inc()


def run_finished(mode: str, outcome: str, seconds: float) -> None:
    if (m := _meters) is not None:
        m.run_seconds.labels(mode, outcome).observe(seconds)


def build_finished(outcome: str, seconds: float) -> None:
    if (m := _meters) is not None:
        m.build_seconds.labels(outcome).observe(seconds)


def landed(source: str, seconds: float) -> None:
    if (m := _meters) is not None:
        m.landing_seconds.labels(source).observe(seconds)


def push_answered(status: int, seconds: float) -> None:
    """A push request's answer: its duration, and a 4xx counted as a refused body."""
    if (m := _meters) is not None:
        m.push_seconds.labels(str(status)).observe(seconds)
        if 400 <= status < 500:
            m.push_refused.labels(str(status)).inc()


def feed_lag(tenant: str, seconds: float) -> None:
    if (m := _meters) is not None:
        m.feed_lag.labels(tenant).set(seconds)


# -- exposition ------------------------------------------------------------------------------
def exposition() -> bytes:
    """This process's metrics in Prometheus' text format (empty until enable())."""
    m = _meters
    if m is None:
        return b""
    from prometheus_client import generate_latest

    return generate_latest(m.registry)


def serve_http(port: int, host: str = "127.0.0.1") -> tuple[str, WSGIServer, threading.Thread]:
    """Serve this process's metrics at http://host:port/metrics in a daemon thread (recording is
    enabled first): (the URL, the server, whose shutdown() stops it, and its thread). Port 0 picks
    a free one."""
    m = enable()
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=m.registry)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"http://{shown}:{bound_port}/metrics", server, thread
