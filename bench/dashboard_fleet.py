"""The fleet bench_dashboard.py measures: --tenants tenants made through the facade, `big` holding a
quarter of --versions, `people` (a push tenant) the population of bench_customers.py, the others
sharing the rest unevenly; small VTEX get-order bodies landed a week at a time through `Lander.land`
with recorded runs, the ledger sealed after each week; a few quarantined records and one drafted
plan. Kept apart from the measuring so each stays one job."""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

import bench_customers
from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.land import Lander, ledger
from ordersync.land.records import Version, parse_order
from ordersync.outcomes import RunStatus
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.sources.push.events import parse_event
from ordersync.sync import runs

BIG, PEOPLE = "big", "people"
#: the biggest tenant's share of --versions (500,000 of 2,000,000)
BIG_SHARE = 0.25
#: order dates of the generic tenants: the last DAYS days
DAYS = 56
LAND_EVERY = timedelta(days=7)
PLAN_ID = "p-bench-dashboard"
SEED = 20


# -- the fleet ------------------------------------------------------------------------------------


def vtex_body(order_id: str, created: datetime, changed: datetime, status: str, cents: int, buyer: int) -> bytes:
    """A small VTEX get-order body: the fields parse_order reads, and little else."""
    return orjson.dumps(
        {
            "orderId": order_id,
            "sequence": order_id[-6:],
            "status": status,
            "creationDate": created.isoformat(),
            "lastChange": changed.isoformat(),
            "value": cents,
            "salesChannel": "1",
            "clientProfileData": {
                "email": f"buyer{buyer}@example.com",
                "firstName": "Buyer",
                "lastName": str(buyer),
                "userProfileId": f"u-{buyer}",
                "document": None,
                "documentType": "cpf",
                "phone": None,
            },
            "storePreferencesData": {"currencyCode": "BRL", "timeZone": "E. South America Standard Time"},
            "items": [{"id": str(cents % 97), "quantity": 1 + cents % 3, "price": cents}],
        }
    )


def order_versions(
    rng: random.Random, n: int, now: datetime, orders: int
) -> list[tuple[datetime, str, datetime, str, int, int]]:
    """`n` versions (event time, order id, creation, status, value, buyer) of about n/2 orders over
    the last DAYS days, each a payment-pending version, then (mostly) invoiced, a few canceled, some
    revised once more; sorted by event time."""
    out: list[tuple[datetime, str, datetime, str, int, int]] = []
    buyers = max(1, orders // 3)
    k = 0
    while len(out) < n:
        k += 1
        order_id = f"{orders + k:07d}-01"
        created = now - timedelta(seconds=rng.uniform(3600, DAYS * 86_400))
        cents, buyer = rng.randrange(1_000, 500_000), rng.randrange(buyers)
        out.append((created, order_id, created, "payment-pending", cents, buyer))
        changed = created + timedelta(hours=rng.uniform(0.5, 30))
        if len(out) < n and changed < now:
            status = "canceled" if rng.random() < 0.08 else "invoiced"
            out.append((changed, order_id, created, status, cents, buyer))
            changed += timedelta(hours=rng.uniform(1, 200))
            if len(out) < n and changed < now and rng.random() < 0.15:  # revised: a partial refund
                out.append((changed, order_id, created, status, cents - cents // 10, buyer))
    out.sort()
    return out


def weeks(items: list[Any], now: datetime, start: datetime) -> Iterator[tuple[datetime, list[Any]]]:
    """Items (sorted by their first field, a moment) by week from `start`, each with its landing moment."""
    end, chunk = start + LAND_EVERY, []
    for item in items:
        while item[0] >= end:
            if chunk:
                yield min(end, now), chunk
                chunk = []
            end += LAND_EVERY
        chunk.append(item)
    if chunk:
        yield min(end, now), chunk


@dataclass
class Generated:
    tenants: int = 0
    versions: int = 0
    batches: int = 0
    orders_people: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def shares(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` uneven shares (log-normal weights), each at least 1."""
    if parts <= 0:
        return []
    weights = [rng.lognormvariate(0, 0.8) for _ in range(parts)]
    scale = max(0, total - parts) / sum(weights)
    out = [1 + int(w * scale) for w in weights]
    out[0] += total - sum(out)
    return out


@dataclass
class Landing:
    """One landing of the generation: a pull tenant's sync run (version tuples of order_versions)
    or a push tenant's batch (parsed versions), at its moment."""

    at: datetime
    tenant: str
    pulled: list[tuple[datetime, str, datetime, str, int, int]] = field(default_factory=list)
    pushed: list[Version] = field(default_factory=list)


def pull_landings(name: str, n: int, now: datetime, rng: random.Random) -> list[Landing]:
    """A pull tenant's n versions, a week a run."""
    versions = order_versions(rng, n, now, rng.randrange(1_000_000))
    return [Landing(at, name, pulled=chunk) for at, chunk in weeks(versions, now, now - timedelta(days=DAYS))]


def land_run(app: Ordersync, lander: Lander, landing: Landing, run_id: str) -> int:
    """A pull landing as one sync run, recorded in cdp.sync_runs; the versions landed."""
    tenant = app.tenants.get(landing.tenant)
    parsed: list[Version] = [
        parse_order(vtex_body(oid, created, changed, status, cents, buyer), tenant.tz)
        for changed, oid, created, status, cents, buyer in landing.pulled
    ]
    began = landing.at - timedelta(seconds=30 + len(parsed) / 50)
    with app.wh.transaction():
        runs.start(app.wh, run_id, tenant.tenant_id, "incremental", began, "bench")
        got = lander.land(tenant.tenant_id, parsed, "sync", run_id)
        counters = runs.RunCounters(
            orders_listed=len({v.order_id for v in parsed}),
            orders_fetched=len(parsed),
            versions_landed=got,
            list_calls=1 + len(parsed) // 100,
            get_calls=len(parsed),
        )
        runs.finish(app.wh, run_id, RunStatus.SUCCEEDED, landing.at, counters)
    return got


def people_landings(app: Ordersync, customers: int, orders: int, now: datetime) -> list[Landing]:
    """bench_customers.py's population (two years of pushed orders), a batch a week."""
    tz = app.tenants.get(PEOPLE).tz
    pop = bench_customers.population(customers, orders, seed=SEED)
    rng = random.Random(SEED + 1)
    first = now - timedelta(days=bench_customers.DAYS, hours=2)
    n = 0
    out: list[Landing] = []
    chunk: list[Version] = []
    for d, buyers in enumerate(pop.days):
        day = first + timedelta(days=d)
        for i in buyers:
            n += 1
            created = day + timedelta(seconds=rng.uniform(0, 86_399))
            chunk.append(parse_event(bench_customers.event(pop, rng, i, f"p-{n:08d}", created), tz))
        if (bench_customers.DAYS - 1 - d) % 7 == 0 and chunk:
            out.append(Landing(min(now, day + timedelta(days=1, hours=1)), PEOPLE, pushed=chunk))
            chunk = []
    return out


def generate_fleet(app: Ordersync, clock: ManualClock, args: argparse.Namespace, now: datetime) -> Generated:
    rng = random.Random(SEED)
    g = Generated()
    began = time.perf_counter()
    names = [BIG, PEOPLE] + [f"shop-{i:04d}" for i in range(max(0, args.tenants - 2))]
    for name in names:
        if name == PEOPLE:
            app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        else:  # a VTEX store (never asked: nothing here syncs)
            app.add_tenant(
                name,
                account=name,
                base_url="http://127.0.0.1:9",
                app_key_env="BENCH_VTEX_KEY",
                app_token_env="BENCH_VTEX_TOKEN",
            )
    g.tenants = len(names)
    g.seconds["tenants"] = time.perf_counter() - began

    began = time.perf_counter()
    people_orders = round(args.customers * bench_customers.SEED_ORDERS / bench_customers.SEED_CUSTOMERS)
    landings = people_landings(app, args.customers, people_orders, now)
    g.orders_people = sum(len(landing.pushed) for landing in landings)
    big = round(args.versions * BIG_SHARE)
    rest = shares(rng, max(0, args.versions - big - g.orders_people), len(names) - 2)
    for name, n in zip([BIG, *names[2:]], [big, *rest], strict=True):
        landings += pull_landings(name, n, now, rng)
    g.seconds["generate_versions"] = time.perf_counter() - began

    # In time order, the ledger sealed after each moment's landings, as a worker's seals would: a
    # version becomes known the week it landed, so "since a week ago" is about the last week only.
    began = time.perf_counter()
    lander = Lander(app.wh, clock)
    landings.sort(key=lambda landing: landing.at)
    g.versions = g.orders_people
    for at, group in itertools.groupby(landings, key=lambda landing: landing.at):
        clock.set(at)
        for landing in group:
            if landing.pushed:
                with app.wh.transaction():
                    lander.land(app.tenants.get(PEOPLE).tenant_id, landing.pushed, "push", None, known_new=True)
            else:
                g.versions += land_run(app, lander, landing, f"bench-{landing.tenant}-{g.batches}")
                g.batches += 1
        ledger.seal(app.wh, clock)
    g.seconds["land"] = time.perf_counter() - began

    # a few bad records (quarantined with their reasons), a drafted plan
    clock.set(now)
    for name in names[:: max(1, len(names) // 10)]:
        app.land_records(name, [b'{"orderId": "broken", "status": 7}', b"not json"], source="sync")
    scope = {
        "tenant_ids": [app.tenants.get(BIG).tenant_id],
        "tenants": [BIG],
        "from": (now - timedelta(days=7)).date().isoformat(),
    }
    PlanStore(app.wh).save(Plan(PLAN_ID, "restate", DRAFTED, "author", now, scope, {"orders": []}, ""), [])
    return g
