"""Customer analytics at the seed's scale and ten times it: the first computation, a full recompute,
the step after a build that touched 500 customers, the daily sweep and a CLV refit.

Each (warehouse, scale) runs in a process of its own (its peak RSS is its own) on a fresh warehouse (a
DuckDB file in --state, or a PostgreSQL database created for the run and dropped after it), with the
default settings (DuckDB's 48 MB `duckdb_memory_limit` included) and customers on.

The population is drawn from a seeded random generator: at scale 1, 30,272 customers and 155,777
orders (the seed's figures) over two years. Each customer arrives on a day of the two years, stays
for an exponential time (a year on average), and buys at a Gamma-distributed rate while there (a
Poisson count, one order on the day they arrive), so about a quarter buy once and a few buy a lot;
the counts are then adjusted to the exact total. Identifiers: a platform id for 85% (one order in ten
of theirs a guest order with the e-mail in another case and a trailing space), an e-mail for all, a
CPF on half the orders of 30% (with and without punctuation), a phone on half the orders of 25%. Each
order is one pushed event (the push API's parser, `parse_event`), invoiced or (4%) canceled, landed
through `Lander` a week at a time with the clock at the end of each week (no HTTP).

Then, timed separately (customers off during the builds, so each figure is the customers' work alone):

- first: after the first build, the first computation (linking every order, freezing the period's
  breakpoints and thresholds, fitting the CLV model, scoring and writing everyone);
- full: `RunKind.FULL` right after it (re-links and re-scores everyone; must change nothing);
- step: 8 hours later the same day, one new order for each of 500 existing customers landed and
  built, then `keep_customers(RunKind.STEP)` (the step alone: no sweep, refit or full is due then);
- sweep: `RunKind.SWEEP` with the clock moved a day (re-scores everyone at the new date);
- refit: `RunKind.REFIT` (fits the CLV model again and re-scores everyone).

    .venv/bin/python bench/bench_customers.py                               # both warehouses, scale 1
    .venv/bin/python bench/bench_customers.py --scale 1 --scale 10 --warehouse postgres
    .venv/bin/python bench/bench_customers.py --quick --warehouse duckdb    # 400 customers (the smoke test)
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench_sync import reset_warehouse
from ordersync.clock import ManualClock
from ordersync.config import DEFAULT_DUCKDB_MEMORY_LIMIT, load_settings
from ordersync.customers.step import CustomerRun, RunKind
from ordersync.facade import Ordersync
from ordersync.land import Lander
from ordersync.land.records import Version
from ordersync.outcomes import RunStatus
from ordersync.sources.push.events import parse_event

#: The seed's figures (scale 1).
SEED_CUSTOMERS, SEED_ORDERS = 30_272, 155_777
QUICK_CUSTOMERS = 400
DAYS = 730
TENANT = "shop"
ZONE = "America/Sao_Paulo"
#: The history ends here; its last day lands 3 hours later, when the first build runs (09:00 local).
HISTORY_END = datetime(2026, 6, 1, 9, tzinfo=UTC)
LANDED_AFTER = timedelta(hours=3)
#: The history lands a week at a time (one transaction each), the last week at the first build.
LANDED_EVERY_DAYS = 7
#: The step's build: 8 hours after the first, the same local day (17:00).
STEP_AFTER = timedelta(hours=8)
STEP_CUSTOMERS, QUICK_STEP_CUSTOMERS = 500, 50
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
SEED = 19

# The population's shape (see the module's docstring).
PLATFORM_SHARE, GUEST_SHARE = 0.85, 0.10
DOCUMENT_SHARE, PHONE_SHARE, ON_ORDER = 0.30, 0.25, 0.5
CANCELED_SHARE = 0.04
STAY_DAYS = 365.0
RATE_SHAPE = 0.6


@dataclass
class Population:
    customers: int
    orders: int
    platform: list[bool]
    document: list[bool]
    phone: list[bool]
    spend: list[float]
    #: per day of the history, the customers who order on it (a customer once per order)
    days: list[list[int]]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # the normal approximation: exact enough for a count this large
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def population(customers: int, orders: int, seed: int = SEED) -> Population:
    """`customers` people placing exactly `orders` orders over DAYS days (orders >= customers)."""
    rng = random.Random(seed)
    arrive = [rng.randrange(DAYS) for _ in range(customers)]
    stay = [min(DAYS - a, max(1, round(rng.expovariate(1 / STAY_DAYS)))) for a in arrive]
    weight = [rng.gammavariate(RATE_SHAPE, 1.0) * s for s in stay]
    scale = (orders - customers) / sum(weight)
    counts = [1 + _poisson(rng, scale * w) for w in weight]
    # to the exact total, among the repeat buyers (the share of one-time buyers stays as drawn)
    repeat = [i for i, c in enumerate(counts) if c > 1]
    diff = orders - sum(counts)
    while diff:
        i = rng.choice(repeat)
        if diff > 0:
            counts[i], diff = counts[i] + 1, diff - 1
        elif counts[i] > 2:
            counts[i], diff = counts[i] - 1, diff + 1
    days: list[list[int]] = [[] for _ in range(DAYS)]
    for i in range(customers):
        days[arrive[i]].append(i)
        for _ in range(counts[i] - 1):
            days[arrive[i] + rng.randrange(stay[i])].append(i)
    return Population(
        customers=customers,
        orders=orders,
        platform=[rng.random() < PLATFORM_SHARE for _ in range(customers)],
        document=[rng.random() < DOCUMENT_SHARE for _ in range(customers)],
        phone=[rng.random() < PHONE_SHARE for _ in range(customers)],
        spend=[rng.gammavariate(2.0, 60.0) + 10.0 for _ in range(customers)],
        days=days,
    )


def cpf(i: int) -> str:
    """A valid CPF of its own for customer i (its two check digits computed)."""
    digits = [int(c) for c in f"{100_000_000 + 7919 * i % 800_000_000:09d}"]
    for n in (10, 11):
        rest = sum(d * w for d, w in zip(digits, range(n, 1, -1), strict=True)) % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return "".join(map(str, digits))


def event(pop: Population, rng: random.Random, i: int, order_id: str, created: datetime) -> dict[str, Any]:
    """Customer i's order as a pushed event, its identifiers as the population has them."""
    customer: dict[str, Any] = {"name": f"Customer {i}"}
    if pop.platform[i] and rng.random() >= GUEST_SHARE:
        customer["id"], customer["email"] = f"u-{i:07d}", f"c{i}@example.com"
    else:  # a guest order: the e-mail alone, as people type it
        customer["email"] = f"C{i}@Example.com " if rng.random() < 0.5 else f"c{i}@example.com"
    if pop.document[i] and rng.random() < ON_ORDER:
        number = cpf(i)
        shown = f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}" if i % 2 else number
        customer["document"], customer["document_type"] = shown, "cpf"
    if pop.phone[i] and rng.random() < ON_ORDER:
        customer["phone"] = f"+55 11 9{7_000_0000 + i:08d}"
    value = max(1.0, rng.gammavariate(4.0, pop.spend[i] / 4))
    return {
        "order_id": order_id,
        "creation_date": created.isoformat(),
        "event_time": (created + timedelta(seconds=rng.uniform(60, 7200))).isoformat(),
        "status": "canceled" if rng.random() < CANCELED_SHARE else "invoiced",
        "total_value": f"{value:.2f}",
        "currency_code": "BRL",
        "sales_channel": "1",
        "customer": customer,
    }


def history(pop: Population, tz: ZoneInfo, seed: int = SEED) -> Iterator[tuple[datetime, list[Version]]]:
    """Each week's orders, in order, with when they land (the end of the week plus LANDED_AFTER)."""
    rng = random.Random(seed + 1)
    first = HISTORY_END - timedelta(days=DAYS)
    n = 0
    versions: list[Version] = []
    for d, buyers in enumerate(pop.days):
        start = first + timedelta(days=d)
        for i in buyers:
            n += 1
            created = start + timedelta(seconds=rng.uniform(0, 86_399))
            versions.append(parse_event(event(pop, rng, i, f"o-{n:08d}", created), tz))
        if (DAYS - 1 - d) % LANDED_EVERY_DAYS == 0:
            yield start + timedelta(days=1) + LANDED_AFTER, versions
            versions = []


@dataclass
class Figures:
    warehouse: str
    scale: float
    customers: int
    orders: int
    land_s: float
    build_s: float
    first_s: float
    full_s: float
    full_changed: int
    refit_s: float
    sweep_s: float
    step_build_s: float
    step_s: float
    step_customers: int
    step_changes: int
    clv_ready: bool
    rss_mb: float
    #: this process's CPU seconds of each run (DuckDB's threads included; PostgreSQL's server not)
    cpu_s: dict[str, float]


def one(kind: RunKind, runs: list[CustomerRun], what: str) -> CustomerRun:
    kinds = [r.kind for r in runs]
    if kinds != [kind] or runs[0].status is not RunStatus.SUCCEEDED:
        found = "; ".join(f"{r.kind.value} {r.status.value}: {r.error}" for r in runs)
        raise SystemExit(f"{what}: expected one {kind.value} run to succeed, got {found or 'none'}")
    return runs[0]


def timed(app: Ordersync, kind: RunKind, what: str, cpu: dict[str, float]) -> tuple[float, CustomerRun]:
    """Wall seconds of one run (and this process's CPU seconds, DuckDB's threads included, in `cpu`)."""
    began, used = time.perf_counter(), time.process_time()
    try:
        runs = app.keep_customers(kind, TENANT)
    except Exception as exc:
        raise SystemExit(f"{what}: {exc}") from exc
    cpu[what] = time.process_time() - used
    return time.perf_counter() - began, one(kind, runs, what)


def build_without_customers(app: Ordersync) -> float:
    app.settings.customers.enabled = False
    began = time.perf_counter()
    result = app.build()
    seconds = time.perf_counter() - began
    app.settings.customers.enabled = True
    if not result.ok:
        raise SystemExit(f"the build failed: {[n for n in result.failed]}")
    return seconds


def run(warehouse: str, scale: float, quick: bool, state: str, memory_limit: str) -> Figures:
    """One warehouse at one scale, in a process of its own."""
    kind = "duckdb" if warehouse == "duckdb" else "postgres"
    folder = Path(state) / f"{kind}-{scale:g}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    if warehouse == "duckdb":
        url = str(folder / "wh.duckdb")
    else:
        server = urllib.parse.urlsplit(PG_SERVER if warehouse == "postgres" else warehouse)
        name = f"/bench_customers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        url = urllib.parse.urlunsplit(server._replace(path=name, query="", fragment=""))
    customers = QUICK_CUSTOMERS if quick else round(SEED_CUSTOMERS * scale)
    orders = round(customers * SEED_ORDERS / SEED_CUSTOMERS)
    step_customers = QUICK_STEP_CUSTOMERS if quick else STEP_CUSTOMERS
    reset_warehouse(url)
    try:
        return _measure(url, warehouse, scale, customers, orders, step_customers, folder, memory_limit)
    finally:
        if url.startswith("postgresql://"):
            import psycopg

            admin, _, name = url.rpartition("/")
            with psycopg.connect(f"{admin}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)


def _measure(
    url: str,
    warehouse: str,
    scale: float,
    customers: int,
    orders: int,
    step_customers: int,
    folder: Path,
    memory_limit: str,
) -> Figures:
    pop = population(customers, orders)
    settings = load_settings(
        overrides={
            "warehouse": {"url": url, "duckdb_memory_limit": memory_limit},
            "dbt": {"state_dir": str(folder / "dbt")},
            "customers": {"enabled": True, "identity_key_file": str(folder / "identity.key")},
        }
    )
    clock = ManualClock(HISTORY_END)
    with Ordersync(settings, clock=clock) as app:
        tenant = app.add_tenant(
            TENANT, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, timezone=ZONE
        )
        lander = Lander(app.wh, clock)
        began = time.perf_counter()
        for landed_at, versions in history(pop, tenant.tz):
            clock.set(landed_at)
            with app.wh.transaction():
                lander.land(tenant.tenant_id, versions, "push", None, known_new=True)
        land_s = time.perf_counter() - began
        first_at = clock.now()

        build_s = build_without_customers(app)
        cpu: dict[str, float] = {}
        first_s, first = timed(app, RunKind.STEP, "first", cpu)
        full_s, full = timed(app, RunKind.FULL, "full", cpu)

        # one new order (placed 4 hours before) for each of step_customers existing customers, landed
        # and built the same day: orders of days after the scoring date count from the next sweep on
        clock.set(first_at + STEP_AFTER)
        rng = random.Random(SEED + 2)
        chosen = sorted(rng.sample(range(customers), step_customers))
        versions = [
            parse_event(event(pop, rng, i, f"s-{i:08d}", clock.now() - timedelta(hours=4)), tenant.tz) for i in chosen
        ]
        with app.wh.transaction():
            lander.land(tenant.tenant_id, versions, "push", None, known_new=True)
        step_build_s = build_without_customers(app)
        step_s, step = timed(app, RunKind.STEP, "step", cpu)

        clock.set(first_at + timedelta(days=1))
        sweep_s, _ = timed(app, RunKind.SWEEP, "sweep", cpu)
        refit_s, _ = timed(app, RunKind.REFIT, "refit", cpu)

        built = int(app.wh.scalar("SELECT count(*) FROM cdp.fct_orders WHERE tenant_id = ?", (tenant.tenant_id,)))
        profiles = int(
            app.wh.scalar("SELECT count(*) FROM cdp.customer_profiles WHERE tenant_id = ?", (tenant.tenant_id,))
        )
        models = app.customer_models(TENANT)
    if first.customers != profiles:
        raise SystemExit(f"the first computation scored {first.customers} customers, the profiles hold {profiles}")
    return Figures(
        warehouse="duckdb" if warehouse == "duckdb" else "postgres",
        scale=scale,
        customers=profiles,
        orders=built - step_customers,
        land_s=land_s,
        build_s=build_s,
        first_s=first_s,
        full_s=full_s,
        full_changed=int(full.findings.get("changed_rows", -1)),
        refit_s=refit_s,
        sweep_s=sweep_s,
        step_build_s=step_build_s,
        step_s=step_s,
        step_customers=step.customers,
        step_changes=step.changes,
        clv_ready=bool(models and models[0].get("ready")),
        rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        cpu_s=cpu,
    )


HEADER = (
    "warehouse  scale  customers     orders  land s  build s  first s  full s  full changed  refit s  sweep s  "
    "step build s  step s  step/full  step customers  clv  peak RSS MB  full cpu s  step cpu s"
)


def row(f: Figures) -> str:
    return (
        f"{f.warehouse:<9}  {f.scale:>5g}  {f.customers:>9,}  {f.orders:>9,}  {f.land_s:>6.1f}  {f.build_s:>7.1f}  "
        f"{f.first_s:>7.2f}  {f.full_s:>6.2f}  {f.full_changed:>12,}  {f.refit_s:>7.2f}  {f.sweep_s:>7.2f}  "
        f"{f.step_build_s:>12.1f}  {f.step_s:>6.2f}  {100 * f.step_s / f.full_s:>8.1f}%  {f.step_customers:>14,}  "
        f"{'fit' if f.clv_ready else 'no':>3}  {f.rss_mb:>11,.0f}  {f.cpu_s['full']:>10.2f}  {f.cpu_s['step']:>10.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--warehouse",
        action="append",
        help="duckdb, postgres (a database created on the local server and dropped after), or a PostgreSQL "
        "server's URL (where this script may create and drop databases); repeatable, default both",
    )
    ap.add_argument("--scale", action="append", type=float, help="1 is the seed's size; repeatable, default 1")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_CUSTOMERS} customers (the smoke test)")
    ap.add_argument("--state", default="/tmp/ordersync-bench-customers", help="DuckDB files, dbt state, the key")
    ap.add_argument(
        "--duckdb-memory-limit",
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        help="DuckDB's memory limit outside builds (default: ordersync's default, %(default)s)",
    )
    ap.add_argument("--json", action="store_true", help="also print each run's figures as a JSON line")
    args = ap.parse_args()
    warehouses = args.warehouse or ["duckdb", "postgres"]
    scales = [1.0] if args.quick else (args.scale or [1.0])
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start; "
        f"DuckDB memory limit {args.duckdb_memory_limit} (outside builds)"
    )
    print(HEADER, flush=True)
    spawn = multiprocessing.get_context("spawn")
    failed = 0
    runs = [(warehouse, scale) for warehouse in warehouses for scale in scales]
    for warehouse, scale in runs:
        try:
            if len(runs) == 1:  # this process is the run's own
                figures = run(warehouse, scale, args.quick, args.state, args.duckdb_memory_limit)
            else:
                with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                    job = pool.submit(run, warehouse, scale, args.quick, args.state, args.duckdb_memory_limit)
                    figures = job.result()
        except (Exception, SystemExit) as exc:
            failed += 1
            print(f"{warehouse:<9}  {scale:>5g}  failed: {exc}", flush=True)
            continue
        print(row(figures), flush=True)
        if args.json:
            print("json " + json.dumps(asdict(figures)), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if failed:
        raise SystemExit(f"{failed} run(s) failed")


if __name__ == "__main__":
    main()
