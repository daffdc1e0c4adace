"""The dashboard and its JSON API at fleet scale: p50 and p95 of every page and list endpoint while
an SDK pushes and `serve` builds, `ordersync status --json` at 1,000 tenants, and revenue as of a
moment and its diff, measured apart.

For each warehouse (DuckDB, PostgreSQL), on a fresh one:

- the fleet: --tenants tenants made through the facade; one (`big`) holds a quarter of --versions, one
  (`people`, a push tenant) the population of bench_customers.py with --customers customers, the
  others share the rest unevenly. Every order is a small VTEX get-order body (the fields
  `parse_order` reads, ~450 bytes), created over the last DAYS days, landing as 1 to 3 versions
  (payment-pending, then invoiced or canceled, some revised). Each tenant's versions land through
  `Lander.land` a week at a time (one sync run each, recorded in cdp.sync_runs, the clock at the
  week's end), every tenant's week before the next week's, and the ledger is sealed after each
  week's landings, so a version becomes known the week it landed, as in production (a diff "since a
  week ago" is about the last week's landings). A few bad records are quarantined,
  one plan is drafted. Then one dbt build and the customers' first computation for `people`.
- before `serve` starts (DuckDB's file is serve's after): `ordersync status --json` as a command and
  `Ordersync.status()` in this process, and `ordersync revenue`'s own as-of and diff (the facade's
  calls the command makes) on the same questions the API is asked below.
- then `ordersync serve --no-worker` in its own process, building every --build-every seconds after
  landings (`[serve] build_every_seconds`), customers on, while an SDK client pushes --push-rate
  events a second to `people` (NDJSON through the push API, a push token, every --push-every
  seconds a batch) and one reader asks every page (admin session cookie) and every list endpoint
  under /v1 (bearer admin token) in turn, one request at a time, for --duration seconds. Before the
  pushes start, the API's as-of answers and diffs are also asked alone ("quiet"), as the command's
  own are.

--keep leaves the warehouse and its folder (the warehouse's URL in it); --reuse FOLDER measures that
warehouse again with this checkout's code, without generating or building it first.

Targets: p95 under 300 ms for every page and list endpoint, `status --json` under 1 s; the as-of and
diff answers no slower than `ordersync revenue`'s own figures in docs/benchmarks.md.

    .venv/bin/python bench/bench_dashboard.py                                  # both warehouses, full scale
    .venv/bin/python bench/bench_dashboard.py --warehouse postgres --duration 300
    .venv/bin/python bench/bench_dashboard.py --tenants 5 --versions 4000 --customers 120 --duration 5  # smoke
    .venv/bin/python bench/bench_dashboard.py --warehouse duckdb --reuse /tmp/ordersync-bench-dashboard/duckdb-1a2b3c4d
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

import bench_customers
from bench_push import RssSampler, server
from bench_sync import reset_warehouse
from dashboard_fleet import BIG, DAYS, PEOPLE, PLAN_ID, SEED, generate_fleet
from ordersync.clock import ManualClock
from ordersync.config import DEFAULT_DUCKDB_MEMORY_LIMIT, load_settings
from ordersync.customers.step import RunKind
from ordersync.facade import Ordersync
from ordersync.revisions.past import PastAnswers
from ordersync.simulator.sdk import SdkConfig, generate
from ordersync.tenants.tokens import MAX_BUDGET, Scope
from ordersync.web.auth import SESSION_COOKIE

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
#: in a run's folder: its warehouse's URL (for --reuse)
URL_FILE = "warehouse.url"
P95_TARGET_MS = 300.0
STATUS_TARGET_S = 1.0
#: `ordersync revenue`'s figures in docs/benchmarks.md ("After the diff's single ranking"; one tenant,
#: 2,000,589 versions over two years): as of the ledger's middle, whole range, and the diff over the last week
CLI_FIGURES_S = {
    "duckdb": {"as_of": 0.35, "diff_week": 0.14},
    "postgres": {"as_of": 1.44, "diff_week": 0.42},
}


# -- measuring ------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Timings:
    kind: str  # page, list, asof (under load), quiet (as-of answers and diffs alone)
    path: str
    ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        ms = self.ms or [float("nan")]
        return {
            "kind": self.kind,
            "path": self.path,
            "n": len(self.ms),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(quantile(ms, 0.95), 1),
            "max_ms": round(max(ms), 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def afresh(app: Ordersync) -> Ordersync:
    """`app` without the as-of answers and diffs it kept (a command's process starts without any)."""
    app.past, app.past_diffs = PastAnswers(), PastAnswers()
    return app


def timed_median(repeat: int, call: Any) -> float | str:
    """The median wall seconds of `repeat` calls, or why the first one that failed did (a figure too)."""
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        try:
            call()
        except Exception as exc:
            return f"failed: {type(exc).__name__}: {str(exc)[:160]}"
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def shown(value: float | str) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else value


def status_command(url: str, env: dict[str, str], cwd: Path) -> None:
    """`ordersync status --json` as a user runs it: Python keeps the compiled modules after a first
    run (an environment that tells it not to would time compiling ordersync's 200 modules every run)."""
    command = [sys.executable, "-m", "ordersync", "status", "--json", "--warehouse", url]
    user = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(command, capture_output=True, env={**user, **env}, cwd=cwd, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode().strip().splitlines()[-1])


def endpoints(now: datetime, customer_key: str | None) -> list[tuple[str, str]]:
    """(kind, path) of what is asked: pages, list endpoints, and as-of answers and diffs."""
    mid = (now - timedelta(days=DAYS // 2)).isoformat()
    week = (now - timedelta(days=7)).isoformat()
    q = urllib.parse.quote
    out = [
        ("page", "/"),
        ("page", "/?sort=orders_today&desc=true&page_number=3"),
        ("page", f"/tenants/{BIG}"),
        ("page", f"/tenants/{PEOPLE}"),
        ("page", "/finance"),
        ("page", f"/finance?tenant={BIG}"),
        ("page", "/plans"),
        ("page", f"/plans/{PLAN_ID}"),
        ("page", f"/customers?tenant={PEOPLE}"),
        ("list", "/v1/tenants"),
        ("list", f"/v1/tenants/{BIG}"),
        ("list", f"/v1/tenants/{BIG}/runs"),
        ("list", f"/v1/tenants/{BIG}/lateness"),
        ("list", f"/v1/tenants/{PEOPLE}/gaps"),
        ("list", f"/v1/tenants/{BIG}/quarantine"),
        ("list", "/v1/revenue"),
        ("list", f"/v1/revenue?tenant={BIG}"),
        ("list", "/v1/notices"),
        ("list", "/v1/plans"),
        ("list", f"/v1/plans/{PLAN_ID}"),
        ("list", f"/v1/tenants/{PEOPLE}/customers"),
        ("list", f"/v1/tenants/{PEOPLE}/customer-events"),
        ("list", "/v1/builds"),
        ("asof", f"/v1/revenue?tenant={BIG}&as_of={q(mid)}"),
        ("asof", f"/v1/revenue?as_of={q(mid)}"),
        ("asof", f"/v1/revenue/diff?tenant={BIG}&since={q(week)}"),
        ("asof", f"/v1/revenue/diff?since={q(week)}"),
        ("asof", f"/finance?tenant={BIG}&as_of={q(mid)}"),
    ]
    if customer_key:
        out.insert(9, ("page", f"/customers?tenant={PEOPLE}&key={q(customer_key)}"))
        out.append(("list", f"/v1/tenants/{PEOPLE}/customers/{q(customer_key)}"))
    return out


@dataclass
class PushFigures:
    events: int = 0
    requests: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)


def sdk_lines(events: int) -> list[bytes]:
    """At least `events` SDK order events ending at the current hour, the order ids made this run's own."""
    per_day = max(50.0, events / 2.2)
    stream = generate(SdkConfig(orders_per_day=per_day, days=1, seed=SEED, duplicate_rate=0.0))
    lines = [e.line for e in stream.events if not e.resend]
    run = uuid.uuid4().hex[:6].encode()
    return [line.replace(b'"order_id":"', b'"order_id":"' + run + b"-", 1) for line in lines]


async def push_loop(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    lines: list[bytes],
    rate: float,
    every: float,
    stop: asyncio.Event,
) -> PushFigures:
    """`rate` events a second in batches every `every` seconds, on a fixed timeline (a slow answer
    delays the next batch, never the pace)."""
    per_batch = max(1, round(rate * every))
    figures = PushFigures()
    url = f"{base}/v1/tenants/{PEOPLE}/orders"
    began = time.monotonic()
    n = 0
    while not stop.is_set():
        chunk = [lines[(n * per_batch + i) % len(lines)] for i in range(per_batch)]
        body = b"\n".join(chunk) + b"\n"
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
            "Idempotency-Key": f"batch-{n}-{uuid.uuid4().hex[:8]}",
        }
        sent = time.perf_counter()
        async with http.post(url, data=body, headers=headers) as r:
            await r.read()
            figures.requests += 1
            if r.status == 200:
                figures.events += per_batch
            else:
                figures.failed += 1
        figures.latencies_ms.append((time.perf_counter() - sent) * 1000)
        n += 1
        wait = began + n * every - time.monotonic()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
    return figures


async def ask(http: aiohttp.ClientSession, base: str, t: Timings, headers: dict[str, str]) -> None:
    sent = time.perf_counter()
    async with http.get(base + t.path, headers=headers, allow_redirects=False) as r:
        await r.read()
        status = r.status
    t.ms.append((time.perf_counter() - sent) * 1000)
    t.statuses[status] = t.statuses.get(status, 0) + 1


async def measure(
    base: str, admin: str, push_token: str, args: argparse.Namespace, now: datetime
) -> tuple[list[Timings], PushFigures, float]:
    # made before the clock starts (a minute's worth more than the run's), not in the event loop
    lines = sdk_lines(int(args.push_rate * (args.duration + 60)))
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.post(f"{base}/login", data={"token": admin}) as r:
            if r.status != 200:
                raise SystemExit(f"login answered {r.status}: {await r.text()}")
            cookie = r.cookies[SESSION_COOKIE].value
        pages = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        bearer = {"Authorization": f"Bearer {admin}"}
        async with http.get(f"{base}/v1/tenants/{PEOPLE}/customers?limit=1", headers=bearer) as r:
            found = (await r.json()).get("data") if r.status == 200 else None
        key = found[0].get("customer_key") if found else None
        asked = [Timings(kind, path) for kind, path in endpoints(now, key)]
        for t in asked:  # once each before timing: first-request costs, and a failure shows at once
            await ask(http, base, Timings(t.kind, t.path), bearer if t.path.startswith("/v1/") else pages)
        # the API's as-of answers and diffs with nothing else running, as `ordersync revenue`'s own were
        quiet = [Timings("quiet", t.path) for t in asked if t.kind == "asof" and t.path.startswith("/v1/")]
        for t in quiet:
            for _ in range(args.min_rounds):
                await ask(http, base, t, bearer)
        stop = asyncio.Event()
        pusher = asyncio.create_task(push_loop(http, base, push_token, lines, args.push_rate, args.push_every, stop))
        began = time.monotonic()
        rounds = 0
        while rounds < args.min_rounds or time.monotonic() - began < args.duration:
            for t in asked:
                if t.kind == "asof" and len(t.ms) >= args.min_rounds:
                    continue  # a fleet diff takes a minute: asked --min-rounds times, the lists all along
                await ask(http, base, t, bearer if t.path.startswith("/v1/") else pages)
            rounds += 1
        stop.set()
        pushed = await pusher
        return asked + quiet, pushed, time.monotonic() - began


def build_count(app: Ordersync) -> int:
    return int(app.wh.scalar("SELECT count(*) FROM cdp.build_runs"))


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    if args.reuse:  # a run kept with --keep: measured again, never reset or removed
        folder = Path(args.reuse)
        return _run(kind, (folder / URL_FILE).read_text().strip(), folder, args)
    folder = Path(args.state) / f"{kind}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    if kind == "duckdb":
        url = str(folder / "wh.duckdb")
    else:
        url = f"{PG_SERVER}/bench_dashboard_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    reset_warehouse(url)
    (folder / URL_FILE).write_text(url + "\n")
    try:
        return _run(kind, url, folder, args)
    finally:
        if url.startswith("postgresql://") and not args.keep:
            admin, _, name = url.rpartition("/")
            with psycopg.connect(f"{admin}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def generated(
    kind: str, app: Ordersync, clock: ManualClock, args: argparse.Namespace, now: datetime, out: dict[str, Any]
) -> int:
    """The fleet generated, built and its customers computed, figures in `out`; how many tenants."""
    began = time.perf_counter()
    g = generate_fleet(app, clock, args, now)
    g.seconds["generate"] = time.perf_counter() - began
    clock.set(datetime.now(UTC))
    began = time.perf_counter()
    built = app.build()
    g.seconds["build"] = time.perf_counter() - began
    if not built.ok:
        raise SystemExit(f"the first build failed: {built.failed}")
    began = time.perf_counter()
    app.keep_customers(RunKind.STEP, PEOPLE)
    g.seconds["customers"] = time.perf_counter() - began
    out["generated"] = asdict(g)
    print(
        f"{kind}: {g.tenants:,} tenants, {g.versions:,} versions ({g.batches:,} pull batches, "
        f"{g.orders_people:,} orders of {args.customers:,} customers), generated in {g.seconds['generate']:.1f} s "
        f"(landing {g.seconds['land']:.1f} s), first build (every tenant's "
        f"customers too) {g.seconds['build']:.1f} s, customers of {PEOPLE} after it {g.seconds['customers']:.1f} s",
        flush=True,
    )
    return g.tenants


def _run(kind: str, url: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    overrides = {
        "warehouse": {"url": url, "duckdb_memory_limit": args.duckdb_memory_limit},
        "dbt": {"state_dir": str(folder / "dbt")},
        "customers": {"enabled": True, "identity_key_file": str(folder / "identity.key")},
    }
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now - timedelta(days=bench_customers.DAYS + 1))
    out: dict[str, Any] = {"warehouse": kind, "commit": commit(), "duckdb_memory_limit": args.duckdb_memory_limit}
    with Ordersync(load_settings(overrides=overrides), clock=clock) as app:
        if args.reuse:
            clock.set(datetime.now(UTC))
            tenants = len(app.list_tenants())
            print(f"{kind}: {tenants:,} tenants in {args.reuse}, as a run with --keep left them", flush=True)
        else:
            tenants = generated(kind, app, clock, args, now, out)

        # before serve (it holds DuckDB's file): the command, and the facade's calls it makes
        out["status_in_process_s"] = timed_median(args.repeat, app.status)
        mid, week = now - timedelta(days=DAYS // 2), now - timedelta(days=7)
        clock.set(datetime.now(UTC))
        out["cli"] = {
            # as the command answers, once per process: nothing kept from the call before
            "as_of_big_s": timed_median(args.repeat, lambda: afresh(app).revenue(BIG, as_of=mid)),
            "as_of_fleet_s": timed_median(args.repeat, lambda: afresh(app).revenue(None, as_of=mid)),
            "diff_week_big_s": timed_median(args.repeat, lambda: afresh(app).revenue_diff(week, None, BIG)),
            "diff_week_fleet_s": timed_median(args.repeat, lambda: afresh(app).revenue_diff(week, None, None)),
        }
        admin = app.create_token(None, "bench reviewer", scope=Scope.ADMIN)[1]
        push_token = app.create_token(PEOPLE, "sdk", max_items_per_minute=MAX_BUDGET)[1]
        builds_before = build_count(app)
    env = {
        "ORDERSYNC__DBT__STATE_DIR": str(folder / "dbt"),
        "ORDERSYNC__CUSTOMERS__ENABLED": "true",
        "ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE": str(folder / "identity.key"),
        "ORDERSYNC__WAREHOUSE__DUCKDB_MEMORY_LIMIT": args.duckdb_memory_limit,
    }
    out["status_command_s"] = timed_median(args.repeat, lambda: status_command(url, env, folder))
    cli = {k: shown(v) for k, v in out["cli"].items()}
    print(
        f"{kind}: status --json over {tenants:,} tenants: command {shown(out['status_command_s'])}, in-process "
        f"{shown(out['status_in_process_s'])} (target < {STATUS_TARGET_S:g} s); ordersync revenue: as of "
        f"{mid:%Y-%m-%d} big {cli['as_of_big_s']}, fleet {cli['as_of_fleet_s']}; diff since {week:%Y-%m-%d} "
        f"big {cli['diff_week_big_s']}, fleet {cli['diff_week_fleet_s']}",
        flush=True,
    )

    os.environ.update(env)
    with server(url, folder, build_every=args.build_every) as (base, proc), RssSampler(proc.pid) as rss:
        asked, pushed, seconds_measured = asyncio.run(measure(base, admin, push_token, args, now))
        out["serve_peak_rss_mb"] = rss.peak / 2**20
    for name in env:
        os.environ.pop(name, None)
    with Ordersync(load_settings(overrides=overrides)) as app:
        out["builds_during"] = build_count(app) - builds_before
    out["measured_s"] = seconds_measured
    out["push"] = {
        "events": pushed.events,
        "requests": pushed.requests,
        "failed": pushed.failed,
        "events_per_s": pushed.events / seconds_measured,
        "p50_ms": statistics.median(pushed.latencies_ms or [0.0]),
        "p95_ms": quantile(pushed.latencies_ms or [0.0], 0.95),
    }
    out["endpoints"] = [t.row() for t in asked]
    return out


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=False
    )
    return done.stdout.strip() or "unknown"


def report(out: dict[str, Any]) -> None:
    kind = out["warehouse"]
    p = out["push"]
    print(
        f"{kind}: measured {out['measured_s']:.0f} s on commit {out['commit']}, {out['builds_during']} builds by "
        f"serve, pushed {p['events']:,} events ({p['events_per_s']:.0f}/s, {p['failed']} refused; push p50 "
        f"{p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms), serve peak RSS {out['serve_peak_rss_mb']:.0f} MB"
    )
    print(f"{'kind':<5} {'path':<72} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  statuses  target")
    for e in out["endpoints"]:
        apart = {"asof": "(apart)", "quiet": "(apart, before the pushes)"}
        target = apart.get(e["kind"]) or ("met" if e["p95_ms"] < P95_TARGET_MS else "MISSED")
        statuses = ",".join(f"{k}x{v}" for k, v in e["statuses"].items())
        print(
            f"{e['kind']:<5} {e['path'][:72]:<72} {e['n']:>4} {e['p50_ms']:>8.1f} {e['p95_ms']:>8.1f} "
            f"{e['max_ms']:>8.1f}  {statuses:<8}  {target}"
        )
    docs = CLI_FIGURES_S[kind]
    print(
        f"{kind}: docs/benchmarks.md's ordersync revenue: as of the middle {docs['as_of']:.2f} s, diff over a week "
        f"{docs['diff_week']:.2f} s (one tenant, 2,000,589 versions)",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", choices=["duckdb", "postgres", "both"], default="both")
    ap.add_argument("--tenants", type=int, default=1_000)
    ap.add_argument("--versions", type=int, default=2_000_000, help="landed versions in all (a quarter in one tenant)")
    ap.add_argument("--customers", type=int, default=30_000, help="customers of the push tenant `people`")
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of measuring (pushes and builds beside)")
    ap.add_argument(
        "--min-rounds", type=int, default=3, help="at least this many requests to each endpoint (as-of ones: exactly)"
    )
    ap.add_argument("--push-rate", type=float, default=100.0, help="events a second the SDK pushes")
    ap.add_argument("--push-every", type=float, default=1.0, help="seconds between the SDK's batches")
    ap.add_argument("--build-every", type=float, default=60.0, help="serve's [serve] build_every_seconds")
    ap.add_argument("--state", default="/tmp/ordersync-bench-dashboard", help="DuckDB files, dbt state, the key")
    ap.add_argument(
        "--duckdb-memory-limit",
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        help="DuckDB's memory limit outside builds, here and in serve (default: ordersync's, %(default)s)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command's timing before serve (their median)")
    ap.add_argument("--keep", action="store_true", help="keep the warehouse and its folder")
    ap.add_argument(
        "--reuse", metavar="FOLDER", help="measure again the warehouse a run with --keep left in FOLDER (no generation)"
    )
    ap.add_argument("--json", action="store_true", help="also print each warehouse's figures as a JSON line")
    args = ap.parse_args()
    if args.tenants < 2:
        ap.error("--tenants: at least 2 (`big` and `people`)")
    if args.reuse and args.warehouse == "both":
        ap.error("--reuse: name the warehouse the folder holds (--warehouse duckdb|postgres)")
    kinds = ["duckdb", "postgres"] if args.warehouse == "both" else [args.warehouse]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    for kind in kinds:
        out = run(kind, args)
        report(out)
        if args.json:
            print("json " + json.dumps(out), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
