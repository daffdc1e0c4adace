"""Simulator faults at a given rate (5xx, slow answers, truncated bodies), 429 bursts, and a few orders
whose body stays broken for good. ordersync must converge: every other order built as the source
has it, the poison orders in cdp.quarantine (with their order id) and nowhere else."""

from __future__ import annotations

import random

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli
from chaoslib.model import TrialParams, TrialResult, TrialSpec, register
from chaoslib.warehouses import dropping, fresh

STORES = (("alpha", 90.0), ("beta", 45.0))
SHORT_STORES = (("alpha", 60.0), ("beta", 30.0))
SMOKE_STORES = (("alpha", 20.0),)
POISON_PER_STORE = 3
SYNC_ATTEMPTS = 3  # an operator runs a failed sync again; more than this is a failure to converge


def truncate(body: bytes) -> bytes:
    return body[: max(1, len(body) // 3)]


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    rate = float(p.options["rate"])
    result = TrialResult(trials=1)
    days = p.pick(3.0, 2.0, 1.0)
    stores = p.pick(STORES, SHORT_STORES, SMOKE_STORES)
    poison_count = p.pick(POISON_PER_STORE, POISON_PER_STORE, 1)
    with (
        sources.simulator(
            p.workdir / "source",
            list(stores),
            days=days,
            seed=rng.randrange(1 << 30),
            fault_rate=rate,
            rate_limit_per_minute=6000,  # VTEX's documented limit; ordersync's budget is half of it
        ) as sim,
        sources.ChaosProxy(sim.url) as proxy,
        dropping(fresh(p.warehouse, p.workdir, "faults")) as wh,
    ):
        sources.settle(sim)
        truths = {name: checks.truth_rows(sources.truth(sim, name)) for name, _ in stores}
        poison = {name: set(rng.sample(sorted(t), poison_count)) for name, t in truths.items()}
        for ids in poison.values():
            for order_id in ids:
                proxy.bodies[order_id] = truncate
        proxy.burst_every, proxy.burst_seconds = 4.0, 0.6
        env = {
            "ORDERSYNC__SYNC__INITIAL_DAYS": "5",
            "ORDERSYNC__SYNC__REQUESTS_PER_MINUTE": "3000",  # ordersync's default, half the store's limit
        }
        if p.smoke:  # as many retries, shorter waits between them: a poison order's 8 retries take 3 s, not 8
            env["ORDERSYNC__SYNC__MAX_BACKOFF_SECONDS"] = "0.5"
        cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", env)
        if not steps.setup_tenants(cli, {name: proxy.base_url(name) for name, _ in stores}, result, init=not p.smoke):
            return result
        result.note(f"poison orders: {sorted(i for ids in poison.values() for i in ids)}")
        every_poison = {i: name for name, ids in poison.items() for i in ids}
        for attempt in range(1, SYNC_ATTEMPTS + 1):
            done = cli.run(["sync", "--json", *(["--no-build"] if p.smoke else [])])
            summary = steps.sync_summary(done) or {}
            for run in summary.get("runs", []):
                error = str(run.get("error") or "")
                hit = [i for i in every_poison if i in error]
                if run.get("status") == "failed" and hit:
                    result.fail(
                        f"{run.get('tenant')}: a run failed on poison order {hit[0]} instead of quarantining it "
                        f"({error[:160]})"
                    )
                elif run.get("status") == "failed":
                    result.note(f"sync {attempt}: {run.get('tenant')} failed: {error[:160]}")
            if done.ok and not summary.get("build_error"):
                if attempt > 1:
                    result.note(f"converged on sync {attempt}")
                break
        else:
            result.fail(f"no convergence after {SYNC_ATTEMPTS} syncs: {done.brief()}")
        if p.smoke:  # its syncs land; the build runs in the harness
            steps.build(cli, result, "the build after the syncs", in_process=True)
        result.faults += sources.sim_faults(sim) + sum(proxy.injected.values())
        with wh.connect() as reader:
            paced = reader.query(
                "SELECT count(*), sum(throttled), sum(throttle_wait_seconds), sum(pace_wait_seconds), "
                "sum(retries) FROM cdp.sync_runs"
            )[0]
            result.note(
                f"{paced[0]} runs: {paced[1]} requests answered 429, {paced[4]} retries; request-seconds spent "
                f"waiting after 429s {float(paced[2] or 0):.0f}, for the budget {float(paced[3] or 0):.0f}"
            )
            for name, truth in truths.items():
                state = checks.check_tenant(reader, name, truth, absent=poison[name])
                result.orders_checked += state.checked
                result.versions_lost += state.lost
                result.versions_doubled += state.doubled
                result.failures += state.problems
                held = checks.quarantined(reader, name)
                landed = checks.landed_ids(reader, name)
                missing = sorted(poison[name] - set(held))
                if missing:
                    result.fail(f"{name}: poison orders not in cdp.quarantine (by order id): {missing}")
                if poison[name] & landed:
                    result.fail(f"{name}: poison orders were landed: {sorted(poison[name] & landed)}")
                other = sorted(set(held) - poison[name])
                if other:
                    result.note(f"{name}: {len(other)} orders quarantined besides the poison ones")
    return result


for _rate in (0.10, 0.30):
    register(
        TrialSpec(
            name=f"faults-{int(_rate * 100)}",
            fn=trial,
            title=f"source faults at {int(_rate * 100)}%",
            doc=(
                f"Two stores (about 270 and 135 orders over 3 days) behind the simulator's own faults on "
                f"{int(_rate * 100)}% of API requests (500/502/503/504, answers stalled 0.2-1.5 s, bodies cut "
                "short), its 6,000 requests/minute limit, and a proxy that answers 429 for 0.6 s of every 4 s "
                f"and keeps {POISON_PER_STORE} orders per store permanently truncated. `ordersync sync` runs "
                f"(again if it fails, at most {SYNC_ATTEMPTS} times). Every other order must be built as the "
                "source has it; each poison order must be in cdp.quarantine under its order id, and never landed "
                "or built."
            ),
            published=1,
            short=1,  # each rate once: the lower on DuckDB, the higher on PostgreSQL
            short_on=("postgres",) if _rate > 0.2 else ("duckdb",),
            smoke_doc=(
                "One store of about 20 orders over a day, one poison order, the same fault rate, limit and 429 "
                "bursts; ordersync's backoff is capped at 0.5 s (as many retries, shorter waits between them). "
                "The lower rate runs on DuckDB, the higher on PostgreSQL."
            ),
            smoke_on=("postgres",) if _rate > 0.2 else ("duckdb",),  # the same kind of trial: once a warehouse
            options={"rate": _rate},
        )
    )
