"""What bench_push.py sends and watches: batches of small SDK events or VTEX get-order bodies, and
the feed's lag from a change at the simulated store to fct_orders."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench_landing import fetch_payloads
from bench_sync import reset_warehouse
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.sdk import SdkConfig, generate
from ordersync.simulator.server import start_in_subprocess

MARK = b"~B~"  # replaced by the batch number in every order id of a batch template


@dataclass
class Payload:
    """Batch templates: batch n is templates[n % len] with MARK replaced by n, so no order repeats."""

    kind: str
    templates: list[bytes]
    item_bytes: int  # average size of one item

    def body(self, n: int, fmt: str) -> bytes:
        lines = self.templates[n % len(self.templates)].replace(MARK, str(n).encode())
        return lines if fmt == "ndjson" else b"[" + lines.rstrip(b"\n").replace(b"\n", b",") + b"]"


def small_payload(batch: int) -> Payload:
    """SDK-shaped order events (order-created, payment-approved, ... snapshots of distinct orders)."""
    stream = generate(
        SdkConfig(orders_per_day=batch, days=2, seed=7, duplicate_rate=0.0, start=datetime(2025, 6, 1, tzinfo=UTC))
    )
    lines = [e.line for e in stream.events if not e.resend][:batch]
    if len(lines) < batch:
        raise SystemExit(f"the SDK simulator gave {len(lines)} events, wanted {batch}")
    out = [
        line.replace(b'"order_id":"', b'"order_id":"' + MARK + b"-%d-" % i, 1) + b"\n" for i, line in enumerate(lines)
    ]
    return Payload("small", [b"".join(out)], sum(map(len, lines)) // batch)


def vtex_payload(batch: int, templates: int) -> Payload:
    """get-order bodies from the VTEX simulator, fetched once (as bench_landing.py does)."""
    count = batch * templates
    config = SimulatorConfig(
        port=0,
        seed=11,
        days=2,
        speed=0.0,
        start=datetime(2025, 6, 1, 12, tzinfo=UTC),
        index_lag_seconds=0,
        rate_limit_per_minute=0,
        fault_rate=0.0,
        accounts=[AccountSpec(name="bench", orders_per_day=count)],
    )
    with start_in_subprocess(config) as sim:
        sim.quiesce()
        truth = sim.control("GET", "truth?" + urllib.parse.urlencode({"account": "bench"}))["orders"]
        ids = [o["orderId"] for o in truth][:count]
        bodies = asyncio.run(fetch_payloads(sim.base_url("bench"), config.app_key, config.app_token, ids))
    if len(bodies) < count:
        raise SystemExit(f"the simulator gave {len(bodies)} orders, wanted {count}")
    out = []
    for t in range(templates):
        chunk = bodies[t * batch : (t + 1) * batch]
        # one line each (the simulator's bodies hold no raw newline), the first orderId made unique
        out.append(
            b"".join(
                orjson.dumps(orjson.loads(b)).replace(b'"orderId":"', b'"orderId":"' + MARK + b"-%d-" % i, 1) + b"\n"
                for i, b in enumerate(chunk)
            )
        )
    return Payload("vtex", out, sum(map(len, bodies)) // count)


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


FEED_ACCOUNT = "store"
KEY_ENV, TOKEN_ENV = "BENCH_PUSH_APP_KEY", "BENCH_PUSH_APP_TOKEN"


def serve_polls_feeds() -> bool:
    """Whether this checkout's `ordersync serve` reads VTEX feeds (the consumer and serve's loop)."""
    import inspect

    from ordersync.serve import process as web_server

    return hasattr(Ordersync, "feed_poll") and "feed" in inspect.getsource(web_server).lower()


def feed_lag(args: argparse.Namespace, url: str, workdir: Path) -> dict[str, Any]:
    """Seconds from a change at the simulated store to the changed row in fct_orders, through
    `ordersync serve` (in a thread here, so fct_orders can be read under its lock) with the
    default [feed] poll_seconds and [serve] build_every_seconds (1 s each with --quick).

    The store runs in real time (speed 1) with --feed-orders-per-day; every change (a new order, a
    status change) to an order created during the run is followed until fct_orders holds its
    version (event_time at least the change's lastChange)."""
    from ordersync.dates import parse_vtex_datetime
    from ordersync.serve.process import ServeOptions, serving_in_thread

    if not serve_polls_feeds():
        return {"available": False, "reason": "feed consumer not available (ordersync serve polls no feed here)"}
    reset_warehouse(url)
    overrides: dict[str, Any] = {
        "warehouse": {"url": url},
        "serve": {"port": 0},
        "dbt": {"state_dir": str(workdir / "feed-dbt")},
    }
    if args.quick:
        overrides["serve"]["build_every_seconds"] = 1.0
        overrides["feed"] = {"poll_seconds": 1.0}
    settings = load_settings(overrides=overrides)
    config = SimulatorConfig(
        port=0,
        seed=5,
        days=0.1,
        speed=1.0,
        start=datetime(2026, 6, 1, 12, tzinfo=UTC) if args.quick else datetime.now(UTC),
        index_lag_seconds=0,
        rate_limit_per_minute=0,
        fault_rate=0.0,
        # --quick: more changes in its few seconds, still within the feed's pace (~28 events/s)
        accounts=[AccountSpec(name=FEED_ACCOUNT, orders_per_day=args.feed_orders_per_day * (3 if args.quick else 1))],
    )
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = config.app_key, config.app_token
    watch = 5.0 if args.quick else args.feed_seconds
    changed: dict[tuple[str, str], tuple[datetime, float]] = {}  # (order, lastChange) -> (when, wall)
    reached: dict[tuple[str, str], float] = {}
    with start_in_subprocess(config) as sim:
        with Ordersync(settings) as app:
            app.add_tenant(
                FEED_ACCOUNT,
                account=FEED_ACCOUNT,
                base_url=sim.base_url(FEED_ACCOUNT),
                app_key_env=KEY_ENV,
                app_token_env=TOKEN_ENV,
            )
            app.feed_setup(FEED_ACCOUNT)
            tenant_id = app.tenants.get(FEED_ACCOUNT).tenant_id
        began = time.time()
        since = sim.clock()
        offset = (began + time.time()) / 2 - since.timestamp()  # wall clock minus the store's clock
        query = urllib.parse.urlencode({"account": FEED_ACCOUNT, "created_from": since.isoformat()})
        options = ServeOptions(settings.serve, worker=False, spool_path=workdir / "feed-spool.ndjson")
        with Ordersync(settings) as app, serving_in_thread(app, options) as (_, serve):
            stop_watching = time.time() + watch
            # a change may wait a poll, the build interval and a build behind the last one watched
            deadline = stop_watching + settings.feed.poll_seconds + settings.serve.build_every_seconds + 120
            while time.time() < deadline:
                if time.time() < stop_watching:
                    for o in sim.control("GET", f"truth?{query}")["orders"]:
                        key = (o["orderId"], o["lastChange"])
                        if key not in changed:
                            at = parse_vtex_datetime(o["lastChange"])
                            changed[key] = (at, at.timestamp() + offset)
                with serve.gate.lock:
                    try:
                        rows = serve.app.wh.query(
                            "SELECT order_id, event_time FROM cdp.fct_orders WHERE tenant_id = ?", (tenant_id,)
                        )
                    except Exception:  # before the first build there is no fct_orders
                        rows = []
                now = time.time()
                built = {r[0]: r[1] for r in rows}
                for key, (at, _) in changed.items():
                    if key not in reached and key[0] in built and built[key[0]] >= at:
                        reached[key] = now
                if now >= stop_watching and len(reached) == len(changed) and (changed or now > deadline - 60):
                    break
                time.sleep(0.5)
    lags = sorted(reached[k] - changed[k][1] for k in reached)
    if not lags:
        return {"available": True, "reason": f"no change reached fct_orders ({len(changed)} changes watched)"}
    return {
        "available": True,
        "changes": len(changed),
        "reached": len(reached),
        "p50_s": quantile(lags, 0.50),
        "max_s": lags[-1],
        "poll_seconds": settings.feed.poll_seconds,
        "build_every_seconds": settings.serve.build_every_seconds,
        "watched_seconds": watch,
    }
