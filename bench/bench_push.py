"""Pushed events per second through `ordersync serve`, next to landing the same rows in-process.

For each warehouse (DuckDB, PostgreSQL) and each payload (small SDK order events, ~10 KB VTEX
get-order bodies): starts `python -m ordersync serve --no-worker` in its own process on a fresh
warehouse (builds held off), pushes batches of --batch events (NDJSON, with an Idempotency-Key as
the SDK sends, every order distinct so everything lands as new) from --concurrency aiohttp
clients for --seconds (or --events), and reads events/s from the answers, each request's latency
(p50, p99) and the server's peak RSS (sampled). Then it lands the same items through
`Intake.land_items` in this process, without HTTP, on another fresh warehouse of the same kind:
the baseline. Targets: HTTP at least 70% of the in-process rate, p99 under 500 ms a batch.

Each push run is repeated under hostile load: a second tenant sends bodies of 10,000 bad items
(`[0,0,...]`, every one quarantined) from --hostile-concurrency clients while serve builds every
60 s (the run lasts --hostile-seconds, long enough for a build). /v1/health is asked every 50 ms
throughout both runs. Targets: p99 of a 500-event batch under 300 ms (small events) and 1 s (VTEX
bodies), at most double that under hostile load, /v1/health p99 under 50 ms. The well-behaved
tenant's token has a budget of its own, lifted (`tokens create --max-items-per-minute`, as a
server-side integration would); the hostile tenant's token keeps the server's, --hostile-budget
items a minute ([serve] max_items_per_minute; by default the product's default, 60,000: six bad
bodies a minute, each past it answered 429 before it is read, or the token looked up); 0 lifts it,
so every hostile body is written: the worst case.

Last, the feed's lag (a status change at the simulated store to the changed row in fct_orders),
when this checkout has a feed consumer.

    .venv/bin/python bench/bench_push.py                       # both warehouses, ~20 s a run
    .venv/bin/python bench/bench_push.py --warehouse duckdb --seconds 30 --concurrency 8
    .venv/bin/python bench/bench_push.py --quick --warehouse duckdb --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from bench_sync import reset_warehouse
from ordersync.config import ServeSettings, load_settings
from ordersync.facade import Ordersync
from ordersync.land.intake import Intake
from ordersync.sources.push.bodies import json_items, ndjson_items
from ordersync.sources.push.events import item_order_id, parse_pushed
from ordersync.tenants.tokens import MAX_BUDGET
from push_sources import Payload, feed_lag, quantile, small_payload, vtex_payload

TENANT = "bench"
WARMUP_BATCHES = 2  # landed before timing, in both runs (first-request costs)
RATIO_TARGET = 0.70
P99_TARGET_MS = {"small": 300.0, "vtex": 1000.0}
HOSTILE_FACTOR = 2.0  # the well-behaved tenant's p99 under hostile load, at most this times its calm p99
HEALTH_P99_TARGET_MS = 50.0
HOSTILE = "noisy"
#: the hostile tenant's body: 10,000 items that are all bad
BAD_BODY = b"[" + b",".join([b"0"] * 10_000) + b"]"
HEALTH_EVERY_SECONDS = 0.05
BUILD_EVERY_SECONDS_HOSTILE = 60.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/bench_push"


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RssSampler:
    """The peak RSS of a process, sampled every `every` seconds on a thread."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.every)

    def now(self) -> int:
        return int(self.proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
    except psutil.Error:  # a backend that has gone; its time is lost
        return 0.0
    return float(t.user + t.system)


def prepare(url: str) -> tuple[str, str]:
    """A fresh warehouse with the push tenant and the hostile one; their tokens (the push tenant's
    with a budget of its own, as high as a token's may be; the hostile one's keeps the server's)."""
    reset_warehouse(url)
    tokens = []
    with Ordersync(load_settings(overrides={"warehouse": {"url": url}})) as app:
        for name, own in ((TENANT, MAX_BUDGET), (HOSTILE, None)):
            app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
            tokens.append(app.create_token(name, "bench", max_items_per_minute=own)[1])
    return tokens[0], tokens[1]


@contextlib.contextmanager
def server(
    url: str, workdir: Path, build_every: float = 1e9, budget: int = 0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`ordersync serve` in its own process, building at most every `build_every` seconds (by default
    never), every token allowed `budget` items a minute (0: lifted); yields (base URL, process)."""
    port = free_port()
    env = {
        **os.environ,
        "ORDERSYNC_WAREHOUSE": url,
        "ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": f"{build_every:g}",
        "ORDERSYNC__SERVE__MAX_ITEMS_PER_MINUTE": str(budget or 1_000_000_000),
    }
    log = (workdir / "serve.log").open("wb")
    cmd = [sys.executable, "-m", "ordersync", "serve", "--port", str(port), "--no-worker", "--warehouse", url]
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = (workdir / "serve.log").read_text()
                raise SystemExit(f"ordersync serve exited with {proc.returncode}:\n{output}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/v1/health", timeout=1) as r:
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("ordersync serve did not start within 60 s")
            time.sleep(0.05)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# -- pushing --------------------------------------------------------------------------------------


@dataclass
class Pushed:
    requests: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failed: int = 0  # requests not answered 200
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    batches: list[int] = field(default_factory=list)  # the batch numbers sent, timed ones only
    health: list[float] = field(default_factory=list)  # seconds, one per /v1/health asked
    health_failed: int = 0  # health answers other than 200 "ok"
    hostile: list[float] = field(default_factory=list)  # seconds, one per hostile body answered
    hostile_statuses: dict[int, int] = field(default_factory=dict)
    hostile_quarantined: int = 0


async def push(
    base: str,
    token: str,
    payload: Payload,
    args: argparse.Namespace,
    on_timed: Callable[[], None],
    hostile_token: str | None = None,
    seconds: float | None = None,
) -> Pushed:
    """Warm-up batches first, then `on_timed()` and the timed run (for `seconds`, by default
    --seconds), with /v1/health asked throughout and, given `hostile_token`, the hostile tenant's
    bad bodies sent from --hostile-concurrency clients."""
    endpoint = f"{base}/v1/tenants/{TENANT}/orders"
    content_type = "application/x-ndjson" if args.format == "ndjson" else "application/json"
    out = Pushed()
    next_batch = 0
    limit = math.ceil(args.events / args.batch) + WARMUP_BATCHES if args.events else None
    stop_at = 0.0

    async def send(session: aiohttp.ClientSession, n: int) -> tuple[float, dict[str, Any] | None]:
        body = payload.body(n, args.format)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        if args.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if args.idempotency_key:
            headers["Idempotency-Key"] = f"bench-{payload.kind}-{n}"
        began = time.perf_counter()
        async with session.post(endpoint, data=body, headers=headers) as r:
            answer = await r.read()
            status = r.status
        took = time.perf_counter() - began
        return took, (orjson.loads(answer) if status == 200 else None)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_batch
        while time.perf_counter() < stop_at and (limit is None or next_batch < limit):
            n, next_batch = next_batch, next_batch + 1
            took, answer = await send(session, n)
            out.requests += 1
            out.latencies.append(took)
            out.batches.append(n)
            if answer is None:
                out.failed += 1
                continue
            out.landed += int(answer["landed"])
            out.duplicates += int(answer["duplicates"])
            out.quarantined += int(answer["quarantined"])

    done = asyncio.Event()

    async def health(session: aiohttp.ClientSession) -> None:
        while not done.is_set():
            began = time.perf_counter()
            async with session.get(f"{base}/v1/health") as r:
                answer = await r.read()
                if r.status != 200 or orjson.loads(answer).get("status") != "ok":
                    out.health_failed += 1
            out.health.append(time.perf_counter() - began)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), HEALTH_EVERY_SECONDS)

    async def hostile(session: aiohttp.ClientSession) -> None:
        endpoint = f"{base}/v1/tenants/{HOSTILE}/orders"
        headers = {"Authorization": f"Bearer {hostile_token}", "Content-Type": "application/json"}
        while not done.is_set():
            began = time.perf_counter()
            async with session.post(endpoint, data=BAD_BODY, headers=headers) as r:
                answer = await r.read()
                out.hostile_statuses[r.status] = out.hostile_statuses.get(r.status, 0) + 1
                if r.status == 200:
                    out.hostile_quarantined += int(orjson.loads(answer)["quarantined"])
            out.hostile.append(time.perf_counter() - began)

    async def timed(session: aiohttp.ClientSession, others: aiohttp.ClientSession) -> None:
        background = [asyncio.create_task(health(others))]
        if hostile_token is not None:
            background += [asyncio.create_task(hostile(others)) for _ in range(args.hostile_concurrency)]
        try:
            await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
        finally:
            done.set()
            await asyncio.gather(*background)

    timeout = aiohttp.ClientTimeout(total=300)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency), timeout=timeout) as s,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as others,
    ):
        for n in range(WARMUP_BATCHES):
            _, answer = await send(s, n)
            if answer is None or answer["landed"] != args.batch:
                raise SystemExit(f"warm-up batch {n} did not land whole: {answer}")
        next_batch = WARMUP_BATCHES
        on_timed()
        began = time.perf_counter()
        stop_at = began + (1e9 if args.events else (seconds or args.seconds))
        await timed(s, others)
        out.seconds = time.perf_counter() - began
    out.batches.sort()
    return out


def drop_database(url: str) -> None:
    import psycopg

    admin, _, name = url.rpartition("/")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends(url: str) -> list[psutil.Process]:
    """The PostgreSQL server processes serving `url`'s database (the server's share of the work)."""
    import psycopg

    admin, _, name = url.rpartition("/")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as con:
        pids = [r[0] for r in con.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out.append(psutil.Process(pid))
    return out


def run_http(
    kind: str, url: str, payload: Payload, args: argparse.Namespace, workdir: Path, hostile: bool = False
) -> dict[str, Any]:
    """A push run; with `hostile`, beside the hostile tenant's bad bodies and serve's builds."""
    token, hostile_token = prepare(url)
    build_every = BUILD_EVERY_SECONDS_HOSTILE if hostile else 1e9
    seconds = args.hostile_seconds if hostile else args.seconds
    with server(url, workdir, build_every, args.hostile_budget if hostile else 0) as (base, proc):
        ps, me = psutil.Process(proc.pid), psutil.Process()
        pg: list[psutil.Process] = []
        start: dict[str, float] = {}

        def timed() -> None:
            pg.extend(backends(url) if url.startswith("postgresql://") else [])
            start.update(server=cpu_seconds(ps), client=cpu_seconds(me), pg=sum(map(cpu_seconds, pg)))

        with RssSampler(proc.pid) as rss:
            idle_rss = rss.now()
            pushed = asyncio.run(push(base, token, payload, args, timed, hostile_token if hostile else None, seconds))

            server_cpu = cpu_seconds(ps) - start["server"]
            client_cpu = cpu_seconds(me) - start["client"]
            pg_cpu = sum(map(cpu_seconds, pg)) - start["pg"]
    with Ordersync(load_settings(overrides={"warehouse": {"url": url}})) as app:
        stored = int(app.wh.scalar("SELECT count(*) FROM cdp.orders_landing"))
        builds = int(app.wh.scalar("SELECT count(*) FROM cdp.build_runs WHERE trigger = 'serve'") or 0)
    expected = pushed.landed + WARMUP_BATCHES * args.batch
    if stored != expected:
        raise SystemExit(f"{kind}: the answers say {expected:,} landed, the warehouse holds {stored:,}")
    lat = sorted(pushed.latencies)
    health = sorted(pushed.health)
    return {
        "hostile_load": hostile,
        "items_per_minute": (args.hostile_budget if hostile else 0) or None,  # None: lifted
        "builds": builds,
        "health_requests": len(health),
        "health_failed": pushed.health_failed,
        "health_p99_ms": quantile(health, 0.99) * 1e3,
        "health_max_ms": health[-1] * 1e3 if health else 0.0,
        "hostile_requests": len(pushed.hostile),
        "hostile_statuses": {str(k): v for k, v in sorted(pushed.hostile_statuses.items())},
        "hostile_quarantined": pushed.hostile_quarantined,
        "hostile_p99_ms": quantile(sorted(pushed.hostile), 0.99) * 1e3,
        "requests": pushed.requests,
        "failed": pushed.failed,
        "landed": pushed.landed,
        "duplicates": pushed.duplicates,
        "quarantined": pushed.quarantined,
        "seconds": pushed.seconds,
        "events_per_s": pushed.landed / pushed.seconds,
        "p50_ms": quantile(lat, 0.50) * 1e3,
        "p99_ms": quantile(lat, 0.99) * 1e3,
        "max_ms": lat[-1] * 1e3 if lat else 0.0,
        "server_idle_rss_mb": idle_rss / 1e6,
        "server_peak_rss_mb": rss.peak / 1e6,
        "server_cpu_us_per_event": server_cpu / max(1, pushed.landed) * 1e6,
        "client_cpu_us_per_event": client_cpu / max(1, pushed.landed) * 1e6,
        "postgres_cpu_us_per_event": pg_cpu / max(1, pushed.landed) * 1e6,
        "batches": pushed.batches,
    }


# -- in-process baseline --------------------------------------------------------------------------


def run_in_process(url: str, payload: Payload, batches: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """The same batches through Intake.land_items in this process, on a fresh warehouse."""
    prepare(url)
    reader = ndjson_items if args.format == "ndjson" else json_items
    pg: list[psutil.Process] = []
    landed = 0
    spent = 0.0
    with Ordersync(load_settings(overrides={"warehouse": {"url": url}})) as app:
        tenant = app.tenants.get(TENANT)
        intake = Intake(app.wh, app.clock)

        def land(body: bytes) -> int:
            result = intake.land_items(
                tenant.tenant_id,
                tenant.tz,
                reader(body),
                "push",
                uuid.uuid4().hex,
                parse=parse_pushed,
                order_id_of=item_order_id,
            )
            return result.landed

        for n in range(WARMUP_BATCHES):
            land(payload.body(n, args.format))
        pg.extend(backends(url) if url.startswith("postgresql://") else [])
        pg0 = sum(map(cpu_seconds, pg))
        cpu0 = time.process_time()
        for n in batches:
            body = payload.body(n, args.format)  # built outside the timing, as the client builds it
            began = time.perf_counter()
            landed += land(body)
            spent += time.perf_counter() - began
        cpu = time.process_time() - cpu0
        pg_cpu = sum(map(cpu_seconds, pg)) - pg0
    return {
        "landed": landed,
        "seconds": spent,
        "events_per_s": landed / spent if spent else 0.0,
        "cpu_us_per_event": cpu / max(1, landed) * 1e6,
        "postgres_cpu_us_per_event": pg_cpu / max(1, landed) * 1e6,
    }


# -- main -----------------------------------------------------------------------------------------


def warehouses(args: argparse.Namespace, workdir: Path) -> list[tuple[str, str, str]]:
    """(name, HTTP run's URL, in-process run's URL)."""
    out = []
    if args.warehouse in ("duckdb", "both"):
        out.append(("duckdb", str(workdir / "push.duckdb"), str(workdir / "inprocess.duckdb")))
    if args.warehouse in ("postgres", "both"):
        out.append(("postgres", args.pg_url, args.pg_url + "_inprocess"))
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| warehouse | payload | events pushed | HTTP events/s | in-process events/s | HTTP / in-process "
        "| p50 | p99 | server peak RSS | server CPU / event | targets (70%, p99) |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        h, i = r["http"], r["in_process"]
        lines.append(
            f"| {r['warehouse']} | {r['payload']} ({r['item_bytes']:,} B) | {h['landed']:,} in {h['seconds']:.1f} s "
            f"| {h['events_per_s']:,.0f} | {i['events_per_s']:,.0f} | {r['ratio']:.0%} "
            f"| {h['p50_ms']:.0f} ms | {h['p99_ms']:.0f} ms | {h['server_peak_rss_mb']:.0f} MB "
            f"(idle {h['server_idle_rss_mb']:.0f}) | {h['server_cpu_us_per_event']:.0f} µs "
            f"(in-process {i['cpu_us_per_event']:.0f}) "
            f"| {'met' if r['ratio_met'] else 'missed'}, {'met' if r['p99_met'] else 'missed'} "
            f"(< {r['p99_target_ms']:g} ms) |"
        )
    return "\n".join(lines)


def hostile_table(rows: list[dict[str, Any]]) -> str:
    """The well-behaved tenant's p99 alone and beside the hostile one, and /v1/health's p99 in both."""
    head = (
        "| warehouse | payload | budget (items/min) | p99 alone | p99 beside hostile | hostile bodies (answers) "
        "| builds during "
        "| health p99 alone / beside (max) | targets (p99 x2, health < 50 ms) |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        h, x = r["http"], r["hostile"]
        if x is None:
            continue
        answers = ", ".join(f"{n} x {code}" for code, n in x["hostile_statuses"].items()) or "none"
        lines.append(
            f"| {r['warehouse']} | {r['payload']} "
            f"| {'lifted' if x['items_per_minute'] is None else format(x['items_per_minute'], ',')} "
            f"| {h['p99_ms']:.0f} ms | {x['p99_ms']:.0f} ms "
            f"(p50 {x['p50_ms']:.0f}, {x['landed']:,} events in {x['seconds']:.0f} s) "
            f"| {x['hostile_requests']:,} ({answers}; {x['hostile_quarantined']:,} items quarantined, "
            f"p99 {x['hostile_p99_ms']:.0f} ms) | {x['builds']} "
            f"| {h['health_p99_ms']:.1f} / {x['health_p99_ms']:.1f} ms ({x['health_max_ms']:.0f}) "
            f"| {'met' if r['hostile_met'] else 'missed'}, {'met' if r['health_met'] else 'missed'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", choices=("duckdb", "postgres", "both"), default="both")
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="a database this script may drop and create")
    ap.add_argument("--payload", choices=("small", "vtex", "both", "none"), default="both")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long each push run lasts")
    ap.add_argument("--events", type=int, default=0, help="push this many events instead of --seconds")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    ap.add_argument("--format", choices=("ndjson", "json"), default="ndjson")
    ap.add_argument("--gzip", action="store_true", help="gzip each body (level 1)")
    ap.add_argument("--no-idempotency-key", dest="idempotency_key", action="store_false")
    ap.add_argument("--vtex-templates", type=int, default=4, help="distinct VTEX batches fetched (x --batch)")
    ap.add_argument("--no-hostile", dest="hostile", action="store_false", help="skip the runs under hostile load")
    ap.add_argument("--hostile-seconds", type=float, default=75.0, help="how long a hostile run lasts (a build in it)")
    ap.add_argument("--hostile-concurrency", type=int, default=2, help="the hostile tenant's requests in flight")
    ap.add_argument(
        "--hostile-budget",
        type=int,
        default=ServeSettings().max_items_per_minute,
        help="[serve] max_items_per_minute, the hostile token's budget (0: lifted; default: the product's)",
    )
    ap.add_argument("--no-feed", dest="feed", action="store_false", help="skip the feed-lag measurement")
    ap.add_argument("--feed-seconds", type=float, default=240.0, help="how long changes are followed")
    ap.add_argument("--feed-orders-per-day", type=float, default=100_000.0, help="the store's rate (x3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 s a run, one VTEX template")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if args.quick:  # no build falls in so short a hostile run
        args.seconds, args.vtex_templates = min(args.seconds, 2.0), 1
        args.hostile_seconds = min(args.hostile_seconds, 2.0)

    payloads = []
    if args.payload in ("small", "both"):
        payloads.append(small_payload(args.batch))
    if args.payload in ("vtex", "both"):
        payloads.append(vtex_payload(args.batch, args.vtex_templates))

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        workdir = Path(tmp)
        for name, http_url, local_url in warehouses(args, workdir):
            for payload in payloads:
                if not args.json:
                    print(f"{name}, {payload.kind}: pushing ...", file=sys.stderr, flush=True)
                http = run_http(payload.kind, http_url, payload, args, workdir)
                local = run_in_process(local_url, payload, http.pop("batches"), args)
                ratio = http["events_per_s"] / local["events_per_s"] if local["events_per_s"] else 0.0
                target = P99_TARGET_MS[payload.kind]
                row = {
                    "warehouse": name,
                    "payload": payload.kind,
                    "item_bytes": payload.item_bytes,
                    "http": http,
                    "in_process": local,
                    "ratio": ratio,
                    "ratio_met": ratio >= RATIO_TARGET,
                    "p99_target_ms": target,
                    "p99_met": http["p99_ms"] < target and http["failed"] == 0,
                    "health_met": http["health_p99_ms"] < HEALTH_P99_TARGET_MS and http["health_failed"] == 0,
                    "hostile": None,
                }
                if args.hostile:
                    if not args.json:
                        print(
                            f"{name}, {payload.kind}: pushing beside a hostile tenant ...", file=sys.stderr, flush=True
                        )
                    hostile = run_http(payload.kind, http_url, payload, args, workdir, hostile=True)
                    hostile.pop("batches")
                    row["hostile"] = hostile
                    row["hostile_met"] = (
                        hostile["p99_ms"] <= HOSTILE_FACTOR * max(http["p99_ms"], 1.0) and hostile["failed"] == 0
                    )
                    row["health_met"] = row["health_met"] and (
                        hostile["health_p99_ms"] < HEALTH_P99_TARGET_MS and hostile["health_failed"] == 0
                    )
                rows.append(row)
            if name == "postgres" and payloads:
                drop_database(http_url)  # leave no large databases behind
                drop_database(local_url)
        lag: dict[str, Any] = {"available": False, "reason": "skipped (--no-feed)"}
        if args.feed:
            name = warehouses(args, workdir)[0][0]
            feed_url = str(workdir / "feed.duckdb") if name == "duckdb" else args.pg_url + "_feed"
            lag = {"warehouse": name, **feed_lag(args, feed_url, workdir)}
            if name == "postgres":
                drop_database(feed_url)

    options = {k: v for k, v in vars(args).items() if k not in ("json",)}
    if args.json:
        print(json.dumps({"options": options, "runs": rows, "feed_lag": lag, "cpus": os.cpu_count()}, indent=2))
        return
    print(
        f"options          batch {args.batch}, concurrency {args.concurrency}, {args.format}"
        f"{', gzip' if args.gzip else ''}, Idempotency-Key {'on' if args.idempotency_key else 'off'}, "
        + (f"{args.events:,} events a run" if args.events else f"{args.seconds:g} s a run")
        + f", {os.cpu_count()} cores"
    )
    if rows:
        print(table(rows))
    if any(r["hostile"] for r in rows):
        print(hostile_table(rows))
    if "p50_s" in lag:
        print(
            f"feed lag         p50 {lag['p50_s']:.1f} s, max {lag['max_s']:.1f} s: {lag['reached']} of "
            f"{lag['changes']} changes reached fct_orders ({lag['warehouse']}, poll every {lag['poll_seconds']:g} s, "
            f"build at most every {lag['build_every_seconds']:g} s, changes followed for {lag['watched_seconds']:g} s)"
        )
    else:
        print(f"feed lag         {lag['reason']}")


if __name__ == "__main__":
    main()
