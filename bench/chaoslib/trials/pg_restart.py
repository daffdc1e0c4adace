"""PostgreSQL restarted (`pg_ctl restart -m fast`) in the middle of a worker tick: the same `ordersync
worker` process must carry on by itself (no restart of the worker, no operator) and the end state
must equal the source's truth. The server is a private cluster the harness runs on its own port.

The smoke trial (the test suite's) has one small store and a worker that does not build; the store's
proxy holds the run's get-orders after its first few, so the restart surely lands while that run is
in flight, and lets them go once the server is back."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli
from chaoslib.deadlines import scaled
from chaoslib.model import POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.warehouses import PrivateCluster, dropping, fresh, poll, wait_until

STORES = [("r1", 60.0), ("r2", 60.0), ("r3", 60.0)]
SMOKE_STORES = [("r1", 20.0)]
SPEED = 1800.0  # simulated seconds per real second: the worker's hourly tick every 2 s
SMOKE_SPEED = 3600.0  # the smoke's: a tick a second
ENV = {
    "ORDERSYNC__SYNC__INITIAL_DAYS": "4",
    "ORDERSYNC__SYNC__CONCURRENCY": "4",
    "ORDERSYNC__SYNC__BATCH_SIZE": "20",
}


def _cluster(p: TrialParams) -> PrivateCluster:
    def make() -> PrivateCluster:
        cluster = PrivateCluster()
        p.shared.stack.callback(cluster.stop)
        return cluster

    cluster: PrivateCluster = p.shared.get("cluster", make)
    return cluster


def _tail(text: str, n: int = 600) -> str:
    return " ".join(text.split())[-n:]


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    cluster = _cluster(p)
    stores = SMOKE_STORES if p.smoke else STORES
    with (
        sources.simulator(p.workdir / "source", stores, days=p.pick(2.0, 2.0, 1.0), seed=rng.randrange(1 << 30)) as sim,
        sources.ChaosProxy(sim.url) as proxy,
        dropping(fresh(POSTGRES, p.workdir, "restart", cluster.server)) as wh,
    ):
        proxy.delay = 0.0 if p.smoke else 0.05  # the smoke's run is held at the proxy instead
        cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", ENV)
        tenants = {name: proxy.base_url(name) for name, _ in stores}
        if not steps.setup_tenants(cli, tenants, result, frequency_hours=1, init=not p.smoke):
            return result
        if p.smoke:
            proxy.hold_after(rng.randint(1, 5))  # the first run waits at the proxy: in flight for sure
        no_build = ["--no-build"] if p.smoke else []
        worker = cli.spawn(
            ["worker", "--tick", "3600", "--concurrency", "3", "--lease-seconds", "5", *no_build,
             "--worker-id", "chaos-w"],
            name="worker",
        )  # fmt: skip
        try:

            def running() -> bool:
                if p.smoke:
                    return proxy.holding.is_set() or not worker.alive()
                rows = poll(wh.url, "SELECT count(*) FROM cdp.sync_runs WHERE status = 'running'")
                return bool(rows and rows[0][0] > 0)

            if not wait_until(running, timeout=scaled(60)):
                result.fail(f"the worker started no run within {scaled(60):g} s: {_tail(worker.output())}")
                return result
            if p.smoke and not worker.alive():  # the smoke waits for the proxy, or for the worker to end
                result.fail(
                    f"the worker exited ({worker.proc.returncode}) before its first run: {_tail(worker.output())}"
                )
                return result
            if not p.smoke:
                time.sleep(rng.uniform(0.0, 1.0))  # a random moment of the run
            away = cluster.restart()
            restarted = datetime.now().astimezone()
            proxy.release()
            result.faults += 1
            result.note(f"server away {away:.1f} s")
            sim.set_speed(p.pick(SPEED, SPEED, SMOKE_SPEED))

            def carried_on() -> bool:
                rows = poll(
                    wh.url,
                    "SELECT count(*) FROM cdp.sync_runs WHERE status = 'succeeded' AND wall_started_at > ?",
                    (restarted,),
                )
                return bool(rows and rows[0][0] > 0)

            if not wait_until(lambda: carried_on() or not worker.alive(), timeout=scaled(60), every=0.3):
                result.fail(f"no run succeeded within {scaled(60):g} s of the restart: {_tail(worker.output())}")
            if not worker.alive():
                result.fail(f"the worker exited ({worker.proc.returncode}) after the restart: {_tail(worker.output())}")
                return result
            quiet = sim.quiesce()  # the list shows the truth from then plus the index lag on
            settled = quiet + timedelta(minutes=15)

            def caught_up() -> bool:
                rows = poll(
                    wh.url,
                    "SELECT count(DISTINCT tenant_id) FROM cdp.sync_runs "
                    "WHERE status = 'succeeded' AND started_at >= ?",
                    (settled,),
                )
                return bool(rows and rows[0][0] == len(stores))

            if not wait_until(caught_up, timeout=scaled(90), every=0.3):
                result.fail(f"the worker did not catch every tenant up after the restart: {_tail(worker.output())}")
        finally:
            proxy.release()
            code = worker.stop()
            sim.set_speed(0)
        if code != 0:
            result.fail(f"the worker exited {code} when stopped: {_tail(worker.output())}")
        failed = poll(wh.url, "SELECT count(*) FROM cdp.sync_runs WHERE status NOT IN ('succeeded', 'running')")
        if failed and failed[0][0]:
            result.note(f"{failed[0][0]} runs ended failed or abandoned around the restart (retried)")
        steps.build(cli, result, "`ordersync build` after the restarts", in_process=p.smoke)
        with wh.connect() as reader:
            left = reader.scalar("SELECT count(*) FROM cdp.sync_runs WHERE status = 'running'")
            if left:
                result.fail(f"{left} runs are still marked running after the worker stopped")
            for name, _ in stores:
                state = checks.check_tenant(reader, name, checks.truth_rows(sources.truth(sim, name)))
                result.orders_checked += state.checked
                result.versions_lost += state.lost
                result.versions_doubled += state.doubled
                result.failures += state.problems
    return result


register(
    TrialSpec(
        name="pg-restart",
        fn=trial,
        title="PostgreSQL restarted mid-tick",
        doc=(
            "One `ordersync worker` (hourly tick, three tenants syncing every hour, dbt build after each tick, "
            "the simulator's clock running 1,800 times real time) on a private PostgreSQL cluster. While a sync "
            "run is in flight the cluster is restarted with `pg_ctl restart -m fast`, cutting every connection. "
            "The same worker process must go on by itself: a run must succeed after the restart, the worker must "
            "catch every tenant up after the source goes quiet, exit 0 when stopped, leave no run `running`, and "
            "the end state must equal the source's truth."
        ),
        warehouses=(POSTGRES,),
        published=5,
        short=1,
        smoke_doc=(
            "One store of about 20 orders and a worker that does not build (`--no-build`; one build at the "
            "end). The store's proxy holds the first run's get-orders after its first 1 to 5, "
            "the cluster is restarted while that run waits, and the get-orders go on once it is back; the "
            "store's clock then runs 3,600 times real time (a tick a second)."
        ),
    )
)
