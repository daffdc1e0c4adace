"""The demo scenario: the built-in simulator with a few stores, two syncs some simulated hours apart,
a mobile app's events pushed through `ordersync serve`'s API, one dbt build, and a summary row per
tenant checked against the simulator's own truth. One store has a year of history whatever the
demo's days, filled by a historical sync, so its CLV model is fitted; a customers row per store
follows (counts, a few segments, the CLV model, the top customer's 12-month CLV: keys only).

`ordersync demo` prints what `run` returns; a serving demo can reuse the same steps. The simulator and
the serve process (uvicorn, numpy) are imported when the demo runs, never on a command's start-up.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ordersync.aio import run_async
from ordersync.clock import ManualClock
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.observe.lateness import BUCKETS
from ordersync.outcomes import RunStatus
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.jobs import Job, JobPolicy

if TYPE_CHECKING:
    from ordersync.simulator.sdk import Stream

DEMO_KEY_ENV = "ORDERSYNC_DEMO_APP_KEY"
DEMO_TOKEN_ENV = "ORDERSYNC_DEMO_APP_TOKEN"
DEMO_STORES = (("petbaar", 450), ("sevensport", 160), ("zapatosnet", 60))
#: a small store with a year of history (whatever the demo's days), enough for its CLV model
YEAR_STORE, YEAR_ORDERS_PER_DAY, YEAR_DAYS = "casaflora", 10, 365
#: the segments counted in the customers table (`ordersync customers --segment` names them)
SHOWN_SEGMENTS = {"champions": "champions", "at risk": "at_risk", "lost": "lost"}
APP_TENANT = "mobileapp"
APP_BATCH = 10

#: Opens the facade with the demo's clock and settings overrides layered over the caller's.
OpenApp = Callable[[ManualClock, Mapping[str, dict[str, Any]]], AbstractContextManager[Ordersync]]


@dataclass
class DemoResult:
    """What the demo did: a summary row per tenant, lines to print under them, and what failed."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    #: a row per store of what the customers room keeps (empty when `[customers] enabled` is off)
    customers: list[dict[str, Any]] = field(default_factory=list)
    customer_lines: list[str] = field(default_factory=list)
    #: the first is printed as the error line; any makes the command fail
    errors: list[str] = field(default_factory=list)


def run(
    open_app: OpenApp,
    days: int,
    hours_later: float,
    say: Callable[[str], None],
    then: Callable[[DemoResult], None] = lambda result: None,
) -> DemoResult:
    """Start the simulator with a few stores, register them, sync twice, push the app's events,
    build, and compare; `say` hears the progress lines, `then` the result while the simulator still
    runs (to serve the warehouse with its stores answering)."""
    from ordersync.simulator import AccountSpec, SimulatorConfig
    from ordersync.simulator.sdk import SdkConfig
    from ordersync.simulator.server import start_in_subprocess

    began = time.perf_counter()
    # The demo's world moves `hours_later` between the syncs and the app's events arrive up to the
    # phones' hold after that: it starts that much before the real now, so it ends at the present
    # (commands run afterwards on the real clock see no future, and none of its past is missing).
    ahead = timedelta(hours=hours_later + SdkConfig.max_delay_hours)
    config = SimulatorConfig(
        port=0,
        days=days,
        start=datetime.now(UTC) - ahead,
        speed=0.0,
        # VTEX allows 6,000 requests a minute per account; the demo's stores are local and faster
        rate_limit_per_minute=120_000,
        accounts=[
            *(AccountSpec(name=n, orders_per_day=d) for n, d in DEMO_STORES),
            AccountSpec(name=YEAR_STORE, orders_per_day=YEAR_ORDERS_PER_DAY, days=YEAR_DAYS),
        ],
    )
    os.environ[DEMO_KEY_ENV] = config.app_key
    # the demo's stores allow more than a real store; the client paces itself to what they allow
    overrides = {"sync": {"requests_per_minute": config.rate_limit_per_minute}}
    os.environ[DEMO_TOKEN_ENV] = config.app_token
    result = DemoResult()
    with start_in_subprocess(config) as sim:
        say(f"simulator serving {len(config.accounts)} stores at {sim.url}")
        clock = ManualClock(sim.clock())
        with open_app(clock, overrides) as os_:
            os_.upgrade()
            say(f"warehouse: {os_.warehouse_url}")
            known = {t.tenant_name for t in os_.list_tenants()}
            names = [a.name for a in config.accounts]
            for name in names:
                if name in known:
                    os_.set_tenant_endpoint(name, sim.base_url(name), name)
                else:
                    # the year store goes live a year back: its first sync reads the last days, the
                    # historical one the year before them
                    live = (clock.now() - timedelta(days=YEAR_DAYS)).date() if name == YEAR_STORE else None
                    os_.add_tenant(
                        name,
                        account=name,
                        base_url=sim.base_url(name),
                        app_key_env=DEMO_KEY_ENV,
                        app_token_env=DEMO_TOKEN_ENV,
                        go_live_date=live,
                    )

            def later() -> None:
                sim.advance(hours_later * 3600)
                clock.set(sim.clock())

            outcomes = sync_twice(os_, names, later)
            app_started = time.perf_counter()
            pushed = push_mobile_app(os_, clock, days)
            app_seconds = time.perf_counter() - app_started
            # the world reaches the real present and the stores are synced up to it: every store is
            # current when the demo ends, on its clock and on the real one
            sim.advance(max(0.0, (max(datetime.now(UTC), clock.now()) - sim.clock()).total_seconds()))
            clock.set(sim.clock())
            outcomes += os_.sync(names, build=False).outcomes
            os_.build(trigger="demo")  # and the customers of every tenant, when they are kept
            if os_.settings.customers.enabled:
                result.customers, result.customer_lines = customers_table(os_, names)
            else:
                result.customer_lines.append("customers are not kept ([customers] enabled = false): no customers table")
            status = {s["tenant"]: s for s in os_.status()}
            for name in names:
                runs = [o for o in outcomes if o.tenant_name == name]
                result.rows.append(
                    {
                        "tenant": name,
                        "orders landed": status[name]["orders_landed"],
                        "orders in fct_orders": status[name]["orders_in_fct"],
                        "versions caught late": sum(o.counters.late_versions for o in runs),
                        "seconds": round(sum(o.seconds for o in runs), 1),
                        "runs": "ok" if all(o.status is RunStatus.SUCCEEDED for o in runs) else "failed",
                    }
                )
            with open_app(clock, overrides) as check:
                agree, total = matches_truth(check, pushed)
                caught = late_versions(check, days)
            result.rows.append(
                {
                    "tenant": f"{APP_TENANT} (push)",
                    "orders landed": status[APP_TENANT]["orders_landed"],
                    "orders in fct_orders": status[APP_TENANT]["orders_in_fct"],
                    "versions caught late": caught,
                    "seconds": round(app_seconds, 1),
                    "runs": "ok" if agree == total else "failed",
                }
            )
            summary = pushed.summary()
            result.lines.append(
                f"{APP_TENANT} pushed {summary['sent']} events over HTTP ({summary['late_events']} held back up to "
                f"48 h on the phones, {summary['duplicates']} sent twice, each batch out of order): "
                f"fct_orders equals the app's own truth for {agree} of {total} orders"
            )
            result.lines.append(
                f"two syncs {hours_later:g} simulated hours apart ({YEAR_STORE}'s year of history by a "
                "historical sync), the pushes, a sync up to the present and one dbt build in "
                f"{time.perf_counter() - began:.1f} s; try `ordersync status`"
            )
            if agree != total:
                result.errors.append(f"{total - agree} of the app's orders differ from its truth")
            result.errors.extend(str(o.error or o.status) for o in outcomes if o.status is not RunStatus.SUCCEEDED)
        then(result)
    return result


def sync_twice(app: Ordersync, names: Sequence[str], later: Callable[[], None]) -> list[SyncOutcome]:
    """Sync the stores, let `later` move the clocks on, and sync them again. The year store's first
    sync reads its last days (its history ends where they begin); its year is then read by a
    historical sync beside the other stores' first one."""
    head = app.sync([YEAR_STORE], build=False).outcomes
    modes = {YEAR_STORE: "historical"}
    jobs = [Job(t, modes.get(t.tenant_name, "incremental")) for t in app.pull_tenants(names)]
    first = [attempts[-1] for attempts in app.run_jobs(jobs, JobPolicy())]
    later()
    return head + first + app.sync(names, build=False).outcomes


def customers_table(app: Ordersync, names: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """A row per store of what the customers room keeps (customers, repeat buyers, a few segments,
    the CLV model, the most valuable customer's 12-month CLV), and lines naming the top customers by
    key: no email or other identifier is printed."""
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    for name in names:
        found = app.list_customers(name)  # the most valuable first
        models = app.customer_models(name)
        model = models[0] if models else None
        segments = Counter(r["segment"] for r in found)
        top = found[0] if found and found[0]["clv_12m"] is not None else None
        rows.append(
            {
                "tenant": name,
                "customers": len(found),
                "repeat": repeat_buyers(app, name),
                **{label: segments[segment] for label, segment in SHOWN_SEGMENTS.items()},
                "CLV": "fitted" if model is not None and model["ready"] else "not yet",
                "top CLV 12m": None if top is None else round(Decimal(top["clv_12m"]), 2),
                # printed under the table
                "why": None if model is None or model["ready"] else f"CLV not fitted: {model['reason']}",
            }
        )
        if top is not None:
            lines.append(
                f"{name}'s most valuable customer is {top['customer_key']} ({top['segment']}, "
                f"{top['purchases']} purchases): {Decimal(top['clv_12m']):.2f} {top['currency']} "
                "expected over the next 12 months"
            )
    # a store whose champions have a 12-month CLV, else any with champions
    ranked = sorted(rows, key=lambda r: r["top CLV 12m"] is None)
    shown = next((r["tenant"] for r in ranked if r["champions"]), YEAR_STORE)
    lines.append(f"try `ordersync customers --tenant {shown} --segment champions`")
    return rows, lines


def repeat_buyers(app: Ordersync, name: str) -> int:
    """Customers who bought on more than one day (the CLV model's repeat buyers)."""
    tid = app.get_tenant(name).tenant_id
    sql = "SELECT count(*) FROM cdp.customer_profiles WHERE tenant_id = ? AND purchase_days > 1"
    return int(app.wh.scalar(sql, (tid,)) or 0)


def push_mobile_app(app: Ordersync, clock: ManualClock, days: int) -> Stream:
    """A mobile app's events pushed through `ordersync serve`'s API as they arrive: 10 % held back
    on the phones for up to 48 h, 2 % sent twice, each batch out of order. The clock follows the
    arrivals, so each version is stamped when it would have landed."""
    # the SDK (numpy) and the serve process (uvicorn, fastapi): only when the demo runs
    from ordersync.serve.process import ServeOptions, serving_in_thread
    from ordersync.simulator.sdk import SdkConfig, generate, push

    end = clock.now()
    stream = generate(
        SdkConfig(orders_per_day=120, days=min(days, 7), seed=7, start=end - timedelta(days=min(days, 7)))
    )
    if APP_TENANT not in {t.tenant_name for t in app.list_tenants()}:
        app.add_tenant(APP_TENANT, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    _, token = app.create_token(APP_TENANT, "demo")
    # small batches, as a phone sends them: each is stamped when its last event arrived
    batches = stream.batches(APP_BATCH)
    arrivals = [max(e.arrival for e in b) for b in batches]

    def next_batch(number: int, _: object) -> None:
        if number + 1 < len(arrivals):
            clock.set(arrivals[number + 1])

    clock.set(arrivals[0] if arrivals else end)
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
    with serving_in_thread(app, options) as (url, _):
        run_async(push(stream, url, APP_TENANT, token, batch_size=APP_BATCH, on_batch=next_batch))
    clock.set(max([end, *arrivals]))
    return stream


def matches_truth(app: Ordersync, stream: Stream) -> tuple[int, int]:
    """(orders whose fct_orders row has the truth's status and total, orders in the truth)."""
    tid = app.get_tenant(APP_TENANT).tenant_id
    held = {
        r[0]: (r[1], Decimal(r[2]))
        for r in app.wh.query("SELECT order_id, status, total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tid,))
    }
    agree = sum(1 for oid, o in stream.truth.items() if held.get(oid) == (o["status"], Decimal(o["total_value"])))
    return agree, len(stream.truth)


def late_versions(app: Ordersync, days: int) -> int:
    """Versions of the app's orders that landed an hour or more after their event."""
    return sum(int(r["buckets"][b]) for r in app.lateness(APP_TENANT, days=days + 3) for b in BUCKETS[1:])
