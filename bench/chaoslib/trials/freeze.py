"""Three `ordersync worker` processes racing on one PostgreSQL warehouse; one is frozen (SIGSTOP) in
the middle of a run, past its lease, while the others take its tenant over, then resumed (SIGCONT).

Asserted from the warehouse alone: the frozen worker's runs land no row after it lost the lease
(rows per run id before the resume and at the end) and move no checkpoint; no two runs of one tenant
overlap in time except a fenced one that landed nothing after the takeover; nothing is lost.

The smoke trial (the test suite's) has two workers and one small store; the store's proxy holds the
get-orders that follow the first landing batch, so the worker is frozen surely in the middle of a
run that has landed rows, and lets them go once it is frozen."""

from __future__ import annotations

import itertools
import random
import signal
import time
from datetime import datetime, timedelta
from typing import Any

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli, Running
from chaoslib.deadlines import scaled
from chaoslib.model import POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.warehouses import dropping, fresh, poll, wait_until

STORES = [(f"f{i}", 80.0) for i in range(1, 5)]
WORKERS = ("w1", "w2", "w3")
SMOKE_STORES, SMOKE_WORKERS = [("f1", 40.0)], ("w1", "w2")
BATCH = 10
LEASE = 3.0
SPEED = 1200.0  # simulated seconds per real second: an hourly tick every 3 s
SMOKE_SPEED = 3600.0  # the smoke's: a tick a second
ENV = {
    "ORDERSYNC__SYNC__INITIAL_DAYS": "4",
    "ORDERSYNC__SYNC__CONCURRENCY": "4",
    "ORDERSYNC__SYNC__BATCH_SIZE": str(BATCH),
}


def _tail(text: str, n: int = 500) -> str:
    return " ".join(text.split())[-n:]


def _rows_per_run(url: str, runs: list[str]) -> dict[str, int] | None:
    if not runs:
        return {}
    marks = ", ".join("?" for _ in runs)
    rows = poll(
        url, f"SELECT run_id, count(*) FROM cdp.orders_landing WHERE run_id IN ({marks}) GROUP BY run_id", tuple(runs)
    )
    return None if rows is None else {str(r[0]): int(r[1]) for r in rows}


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    stores, names = (SMOKE_STORES, SMOKE_WORKERS) if p.smoke else (STORES, WORKERS)
    with (
        sources.simulator(p.workdir / "source", stores, days=p.pick(2.0, 2.0, 1.0), seed=rng.randrange(1 << 30)) as sim,
        sources.ChaosProxy(sim.url) as proxy,
        dropping(fresh(POSTGRES, p.workdir, "freeze")) as wh,
    ):
        proxy.delay = 0.0 if p.smoke else 0.12
        cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", ENV)
        if not steps.setup_tenants(
            cli, {n: proxy.base_url(n) for n, _ in stores}, result, frequency_hours=1, init=not p.smoke
        ):
            return result
        if p.smoke:  # the first run lands a batch, then waits at the proxy
            proxy.hold_after(BATCH + rng.randint(1, BATCH - 1))
        workers: dict[str, Running] = {
            w: cli.spawn(
                ["worker", "--tick", "3600", "--concurrency", "2", "--lease-seconds", str(LEASE), "--no-build",
                 "--worker-id", w],
                name=f"worker-{w}",
            )
            for w in names
        }  # fmt: skip
        speed = p.pick(SPEED, SPEED, SMOKE_SPEED)
        sim.set_speed(speed / 2)  # orders change while the runs go on: a stale writer would have new versions
        victim: str | None = None
        stale: list[tuple[str, int]] = []  # (run_id, tenant_id) of the frozen worker's runs in flight
        before: dict[str, int] = {}
        frozen_at = resumed_at = None
        try:
            found: list[tuple[Any, ...]] = []

            def mid_run() -> bool:
                rows = poll(
                    wh.url,
                    "SELECT r.worker_id FROM cdp.sync_runs r WHERE r.status = 'running' "
                    "AND EXISTS (SELECT 1 FROM cdp.orders_landing l WHERE l.run_id = r.run_id)",
                )
                found[:] = rows or []
                return bool(found)

            if p.smoke:
                held = wait_until(lambda: proxy.holding.is_set() and mid_run(), timeout=scaled(60))
            else:
                held = wait_until(mid_run, timeout=scaled(60))
            if not held:
                result.fail(f"no worker landed rows in a run within {scaled(60):g} s: " + _tail(workers["w1"].output()))
                return result
            if not p.smoke:
                time.sleep(rng.uniform(0.0, 0.5))  # a random moment of the run
            victim = str(found[0][0])
            workers[victim].signal(signal.SIGSTOP)
            frozen_at = datetime.now().astimezone()
            result.faults += 1
            rows = poll(
                wh.url,
                "SELECT run_id, tenant_id FROM cdp.sync_runs WHERE worker_id = ? AND status = 'running'",
                (victim,),
            )
            stale = [(str(r[0]), int(r[1])) for r in rows or []]
            proxy.release()  # the others' runs go on; the frozen one's answers wait in its sockets
            sim.set_speed(speed)

            def taken_over() -> bool:
                for _, tid in stale:
                    got = poll(
                        wh.url,
                        "SELECT count(*) FROM cdp.sync_runs "
                        "WHERE tenant_id = ? AND worker_id <> ? AND wall_started_at > ?",
                        (tid, victim, frozen_at),
                    )
                    if not got or not got[0][0]:
                        return False
                return True

            if not wait_until(taken_over, timeout=scaled(60), every=0.2):
                result.fail(f"nobody took the frozen worker's tenants over within {scaled(60):g} s (lease {LEASE:g} s)")
            if not p.smoke:
                time.sleep(LEASE)  # a lease period more: the takeover's run goes on meanwhile
            before = _rows_per_run(wh.url, [r for r, _ in stale]) or {}
            workers[victim].signal(signal.SIGCONT)
            resumed_at = datetime.now().astimezone()
            result.note(f"frozen for {(resumed_at - frozen_at).total_seconds():.1f} s")

            def fenced_runs_ended() -> bool:
                # the resumed worker goes on with its stale runs; their next write is refused, and it
                # records them finished: by then it has tried to write with its stale lease
                ids = [r for r, _ in stale]
                if not ids:
                    return True
                marks = ", ".join("?" for _ in ids)
                got = poll(
                    wh.url,
                    f"SELECT count(*) FROM cdp.sync_runs WHERE run_id IN ({marks}) AND wall_finished_at IS NULL",
                    tuple(ids),
                )
                return bool(got) and got[0][0] == 0

            if not wait_until(fenced_runs_ended, timeout=scaled(60), every=0.2):
                result.fail(
                    f"the resumed worker did not end its fenced runs within {scaled(60):g} s: "
                    + _tail(workers[victim].output())
                )
            quiet = sim.quiesce() + timedelta(minutes=15)

            def caught_up() -> bool:
                got = poll(
                    wh.url,
                    "SELECT count(DISTINCT tenant_id) FROM cdp.sync_runs "
                    "WHERE status = 'succeeded' AND started_at >= ?",
                    (quiet,),
                )
                return bool(got and got[0][0] == len(stores))

            if not wait_until(caught_up, timeout=scaled(90), every=0.3):
                result.fail("the workers did not catch every tenant up after the source went quiet")
        finally:
            proxy.release()
            codes = {w: r.stop() for w, r in workers.items()}
            sim.set_speed(0)
        for w, code in codes.items():
            if code != 0:
                result.fail(
                    f"worker {w}{' (the frozen one)' if w == victim else ''} exited {code}: "
                    f"{_tail(workers[w].output())}"
                )
        after = _rows_per_run(wh.url, [r for r, _ in stale]) or {}
        late = {run: after.get(run, 0) - before.get(run, 0) for run, _ in stale}
        if any(late.values()):
            result.fail(
                f"the frozen worker landed {sum(late.values())} rows after it lost the lease (run: rows {late})"
            )
        _overlaps(result, wh.url, {r for r, _ in stale}, late)
        steps.build(cli, result, "`ordersync build` after the race", in_process=p.smoke)
        with wh.connect() as reader:
            moved = reader.query(
                "SELECT tenant_id, stream FROM cdp.sync_checkpoints WHERE run_id IN "
                f"({', '.join('?' for _ in stale) or 'NULL'})",
                tuple(r for r, _ in stale),
            )
            if moved:
                result.fail(f"checkpoints last moved by the fenced run: {moved}")
            statuses = reader.query(
                f"SELECT status, error FROM cdp.sync_runs WHERE run_id IN ({', '.join('?' for _ in stale) or 'NULL'})",
                tuple(r for r, _ in stale),
            )
            for status, error in statuses:
                result.note(f"the fenced run ended {status}: {str(error)[:120]}")
            for run_id, tid in stale:
                tokens = reader.query(
                    "SELECT s.lease_token, min(t.lease_token) FROM cdp.sync_runs s, cdp.sync_runs t "
                    "WHERE s.run_id = ? AND t.tenant_id = ? AND t.worker_id <> s.worker_id "
                    "AND t.wall_started_at > ? GROUP BY s.lease_token",
                    (run_id, tid, frozen_at),
                )
                if not tokens or tokens[0][0] is None or tokens[0][1] is None:
                    result.note("the runs record no lease token to compare")
                elif not tokens[0][1] > tokens[0][0]:
                    result.fail(
                        f"tenant {tid}: the takeover run's lease token {tokens[0][1]} is not above the "
                        f"fenced run's {tokens[0][0]}"
                    )
            for name, _ in stores:
                state = checks.check_tenant(reader, name, checks.truth_rows(sources.truth(sim, name)))
                result.orders_checked += state.checked
                result.versions_lost += state.lost
                result.versions_doubled += state.doubled
                result.failures += state.problems
    return result


def _overlaps(result: TrialResult, url: str, stale: set[str], late: dict[str, int]) -> None:
    """No two runs of one tenant overlap in time, except a fenced (stale) one that landed nothing
    after the takeover. A run still unfinished counts as running to the end."""
    rows = poll(
        url, "SELECT tenant_id, run_id, worker_id, status, wall_started_at, wall_finished_at FROM cdp.sync_runs"
    )
    if rows is None:
        result.fail("could not read cdp.sync_runs")
        return
    end = datetime.now().astimezone()
    by_tenant: dict[int, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_tenant.setdefault(int(r[0]), []).append(r)
    for tid, runs in by_tenant.items():
        runs.sort(key=lambda r: r[4])
        for a, b in itertools.combinations(runs, 2):
            a_end = a[5] or end
            if b[4] >= a_end:
                continue
            fenced = [x for x in (a, b) if x[1] in stale and late.get(x[1], 0) == 0]
            if not fenced:
                result.fail(f"tenant {tid}: runs {a[1][:8]} ({a[2]}, {a[3]}) and {b[1][:8]} ({b[2]}, {b[3]}) overlap")
            else:
                result.note("a fenced run overlapped its successor and landed nothing after the takeover")


register(
    TrialSpec(
        name="freeze",
        fn=trial,
        title="a worker frozen past its lease",
        doc=(
            f"Three `ordersync worker` processes (`--lease-seconds {LEASE:g}`, hourly tick, the simulator's clock "
            f"at {SPEED:g}x) share one PostgreSQL warehouse and four tenants whose get-orders answer slowly. When "
            "a run has landed its first rows, its worker is frozen with SIGSTOP; once another worker has started "
            "a run of that tenant (and a lease period more has passed) it is resumed with SIGCONT. From the "
            "warehouse alone: the frozen run lands no row after the takeover (rows per run id counted before the "
            "resume and at the end) and is not the last to move any checkpoint; no two runs of one tenant overlap "
            "in wall time unless one is that fenced run; every worker exits 0 when stopped; nothing is lost."
        ),
        warehouses=(POSTGRES,),
        published=3,
        short=1,
        smoke_doc=(
            "Two workers, one store of about 40 orders, the store's clock at 3,600 times real time. The "
            "store's proxy holds every get-order after the first 11 to 19 (a landing batch is 10); once the "
            "first batch has landed the worker running it is frozen, and the get-orders go on. "
            "It is resumed as soon as the other worker has taken the tenant over, and must end its fenced run "
            "(the harness waits for that run to be recorded finished); the checks are the published ones."
        ),
    )
)
