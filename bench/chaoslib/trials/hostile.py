"""One tenant floods `ordersync serve` with bad and oversized bodies while another pushes its stream.

The noisy tenant sends, from two clients, in turn: a body of 10,000 bad items (`[0,0,...]`, each
one quarantined), a body over `[serve] max_body_mb`, a gzip body that inflates past it, and a
megabyte that is not JSON, with the per-token budget lifted so every bad body reaches the landing
path (the worst case). Meanwhile the well-behaved tenant pushes the mobile SDK's seeded stream
(late, duplicated, shuffled), each batch with its Idempotency-Key and no retry. Serve builds every
4 s. Checked: every answer the well-behaved tenant got is 200 and they add up to its stream's
distinct events; every distinct event is in cdp.orders_landing exactly once and nothing of it is
quarantined; after a build fct_orders equals the SDK's truth; the noisy tenant landed nothing and
got the answer each of its bodies calls for (200 with its items quarantined, 413, 413, 400). The
well-behaved tenant's p99 and /v1/health's are noted.

The smoke trial (the test suite's) pushes a day of a dozen orders in batches of 5, the first batch
sent only once a bad body is in flight, to a serve that does not build by itself, beside one noisy
client whose bad-item bodies hold 2,000 items.
"""

from __future__ import annotations

import gzip
import math
import random
import threading
import time

import httpx

from chaoslib import steps
from chaoslib.commands import Cli
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.serving import ServeProcess
from chaoslib.trials.push import _check, sdk_stream
from chaoslib.warehouses import PgServer, dropping, free_port, fresh
from ordersync.simulator.sdk import PushTotals

TENANT = "mobileapp"  # the well-behaved tenant (the push trial's checks read it by this name)
NOISY = "noisy"
MAX_BODY_MB = 1
Body = tuple[str, bytes, dict[str, str], int]  # (what, body, extra headers, the status it must get)


def bad_bodies(items: int) -> list[Body]:
    return [
        (f"{items:,} bad items", b"[" + b",".join([b"0"] * items) + b"]", {}, 200),
        ("a body over max_body_mb", b"[" + b",".join([b"0"] * 700_000) + b"]", {}, 413),
        ("gzip inflating past max_body_mb", gzip.compress(b" " * (8 << 20)), {"Content-Encoding": "gzip"}, 413),
        ("a megabyte that is not JSON", b"{" * ((1 << 20) - 1), {}, 400),
    ]


def _setup(cli: Cli, result: TrialResult, init: bool) -> dict[str, str] | None:
    """The two push tenants and a token each; None (with the failure) when a step fails."""
    if init and not (done := cli.run(["init"])).ok:
        result.fail(f"setup: {done.brief()}")
        return None
    tokens = {}
    for name in (TENANT, NOISY):
        added = cli.run(["tenants", "add", name, "--platform", "push", "--timezone", "America/Sao_Paulo"])
        made = cli.run(["tokens", "create", "--tenant", name, "--json"]) if added.ok else added
        if not made.ok:
            result.fail(f"setup: {made.brief()}")
            return None
        tokens[name] = str(made.json()["token"])
    return tokens


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else 0.0


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    per_day, days, batch_size = p.pick((90, 3, 20), (50, 2, 20), (12, 1, 5))
    clients, items = p.pick((2, 10_000), (2, 10_000), (1, 2_000))
    bodies = bad_bodies(items)
    stream = sdk_stream(per_day, days, rng)
    server = PgServer() if p.warehouse != DUCKDB else None
    with dropping(fresh(p.warehouse, p.workdir, "hostile", server)) as wh:
        cli = Cli(p.workdir, wh.url, None)
        tokens = _setup(cli, result, init=not p.smoke)
        if tokens is None:
            return result
        env = {
            "ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": "3600" if p.smoke else "4",
            "ORDERSYNC__SERVE__MAX_BODY_MB": str(MAX_BODY_MB),
            "ORDERSYNC__SERVE__MAX_ITEMS_PER_MINUTE": "1000000000",
        }
        serve = ServeProcess(cli, free_port(), env)
        try:
            serve.start()
        except RuntimeError as exc:
            result.fail(f"serve: {exc}")
            return result
        done, in_flight = threading.Event(), threading.Event()
        wrong: list[str] = []
        answered: dict[str, int] = {}
        health: list[float] = []

        def flood(offset: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[NOISY]}", "Content-Type": "application/json"}
            with httpx.Client(timeout=scaled(300)) as client:
                n = offset
                while not done.is_set():
                    what, body, extra, want = bodies[n % len(bodies)]
                    n += 1
                    in_flight.set()
                    try:
                        r = client.post(
                            f"{serve.url}/v1/tenants/{NOISY}/orders", content=body, headers={**headers, **extra}
                        )
                    except httpx.HTTPError as exc:
                        wrong.append(f"{what}: {type(exc).__name__}: {exc}")
                        continue
                    answered[what] = answered.get(what, 0) + 1
                    if r.status_code != want:
                        wrong.append(f"{what}: {r.status_code} (wanted {want}): {r.text[:200]}")
                    elif want == 200 and r.json()["landed"] != 0:
                        wrong.append(f"{what}: landed {r.json()['landed']} versions")

        def probe() -> None:
            with httpx.Client(timeout=scaled(60)) as client:
                while not done.wait(0.1):
                    began = time.perf_counter()
                    r = client.get(f"{serve.url}/v1/health")
                    health.append(time.perf_counter() - began)
                    if r.status_code != 200:
                        wrong.append(f"/v1/health answered {r.status_code}")

        threads = [threading.Thread(target=flood, args=(k,), name=f"noisy-{k}", daemon=True) for k in range(clients)]
        threads.append(threading.Thread(target=probe, name="health", daemon=True))
        for t in threads:
            t.start()
        totals, latencies = PushTotals(), []
        try:
            if not in_flight.wait(scaled(60)):
                result.fail("the noisy tenant never sent a body")
            headers = {"Authorization": f"Bearer {tokens[TENANT]}", "Content-Type": "application/x-ndjson"}
            events = stream.events
            with httpx.Client(timeout=scaled(300)) as client:
                for b, first in enumerate(range(0, len(events), batch_size)):
                    body = b"".join(e.line + b"\n" for e in events[first : first + batch_size])
                    began = time.perf_counter()
                    r = client.post(
                        f"{serve.url}/v1/tenants/{TENANT}/orders",
                        content=body,
                        headers={**headers, "Idempotency-Key": f"hostile-{b}"},
                    )
                    latencies.append(time.perf_counter() - began)
                    totals.batches += 1
                    totals.requests += 1
                    if r.status_code != 200:
                        totals.rejected.append({"batch": b, "status": r.status_code, "detail": r.text[:200]})
                        continue
                    answer = r.json()
                    totals.received += int(answer["received"])
                    totals.landed += int(answer["landed"])
                    totals.duplicates += int(answer["duplicates"])
                    totals.quarantined += int(answer["quarantined"])
        finally:
            done.set()
            for t in threads:
                t.join(timeout=scaled(600))
        result.faults += sum(answered.values())
        result.note(
            f"{TENANT}: {totals.batches} batches, p99 {_quantile(latencies, 0.99) * 1e3:.0f} ms; "
            f"{NOISY}: {', '.join(f'{n} x {what}' for what, n in answered.items())}; "
            f"/v1/health p99 {_quantile(health, 0.99) * 1e3:.0f} ms over {len(health)} probes"
        )
        for line in wrong[:5]:
            result.fail(f"{NOISY} or health: {line}")
        if totals.rejected:
            result.fail(f"{TENANT}'s batches were not answered 200: {totals.rejected[:2]}")
        code = serve.stop()
        if code not in (0, None):
            result.fail(f"serve exited {code} when stopped: {serve.output()[-400:]}")
        steps.build(cli, result, "`ordersync build` after the pushes", in_process=p.smoke)
        _check(result, wh.connect, stream, totals)
        with wh.connect() as reader:
            noisy = reader.scalar(
                "SELECT count(*) FROM cdp.orders_landing l JOIN cdp.tenants t ON t.tenant_id = l.tenant_id "
                "WHERE t.tenant_name = ?",
                (NOISY,),
            )
        if noisy:
            result.fail(f"{NOISY} landed {noisy} versions; it sent only bad items")
    return result


register(
    TrialSpec(
        name="hostile-tenant",
        fn=trial,
        title="one tenant floods serve with bad and oversized bodies while another pushes",
        doc=(
            "`ordersync serve` (a child process, building every 4 s, [serve] max_body_mb = 1, the per-token "
            "budget lifted) takes the mobile SDK's seeded stream for one tenant (three days of about 90 "
            "orders a day: late, 5% sent twice, shuffled; 20 events a batch, one Idempotency-Key each, no "
            "retry) while a second tenant sends, from two clients without pause, bodies of 10,000 bad items, "
            "bodies over the size limit before and after gzip, and a megabyte that is not JSON. Checked: "
            "every answer to the first tenant is 200 and they add up to its stream's distinct events; every "
            "distinct event is in cdp.orders_landing exactly once and nothing else; nothing of it "
            "quarantined; after `ordersync build` fct_orders equals the SDK's truth; the second tenant "
            "landed nothing and each of its bodies got its answer (200 with every item quarantined, 413, "
            "413, 400); /v1/health answered 200 throughout. The first tenant's p99 is noted."
        ),
        published=3,
        short=1,
        smoke_on=(DUCKDB,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "One day of 12 orders, 5 events a batch, the first batch sent once a bad body is in flight, a "
            "serve that does not build by itself (one build at the end); one noisy client, its bad-item "
            "bodies of 2,000 items."
        ),
    )
)
