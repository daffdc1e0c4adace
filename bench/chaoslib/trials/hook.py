"""`kill -9` of `ordersync serve` while the VTEX simulator delivers Hook notifications to it.

The simulator's Hook (every change, item edits included; 5% of notifications sent twice) posts to
serve's `/v1/hooks/vtex/{tenant}` with the tenant's secret header, through a relay that answers 502
while serve is down; the simulator retries every failed delivery after 0.2 s, growing to 2 s. The
store's clock moves in steps while serve is SIGKILLed at random moments (answering, fetching,
landing, building) and, every other kill, right after it answered a notification 200 (the store
counts it delivered: only serve's spool holds it), and restarted on the same port. At the end every
order that changed after the hook was configured is in fct_orders as the store has it.

The smoke trial (the test suite's) moves the clock of a store of 60 orders a day one step, and kills
serve once, right after it answered the step's first notification 200 (the relay is armed before the
clock moves); its serve does not build by itself.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib import sources, steps
from chaoslib.commands import Cli
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.secrets import APP_KEY, APP_TOKEN
from chaoslib.serving import KillRelay, ServeProcess
from chaoslib.trials.capture import check_changed_since
from chaoslib.warehouses import PgServer, WarehouseHandle, dropping, free_port, fresh, wait_until
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.simulator.server import RunningSimulator
from ordersync.sources.vtex.hook import SECRET_HEADER

ACCOUNT = "shop"
ENV = {"ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": "4"}
STEP_SECONDS = 30 * 60  # simulated time per step of the store's clock
#: Every change of an order, item edits included (a FromWorkflow filter hears status changes only).
FILTER = {"type": "FromOrders", "expression": "value >= 0", "disableSingleFire": True}
RANDOM, AFTER_ANSWER = "at a random moment", "right after answering a notification 200"


@dataclass
class Plan:
    steps: int
    kills: int


def _source(p: TrialParams) -> RunningSimulator:
    def make() -> RunningSimulator:
        per_day = p.pick(160.0, 100.0, 60.0)
        sim = p.shared.stack.enter_context(
            sources.simulator(p.group_dir / "source", [(ACCOUNT, per_day)], days=3, seed=29, index_lag_seconds=0)
        )
        sim.set_event_settings(
            duplicate_rate=0.05,
            hook_retry_base_seconds=0.2,
            hook_retry_factor=1.5,
            hook_retry_max_seconds=2.0,
            hook_max_attempts=100_000,
            hook_timeout_seconds=5.0,
        )
        return sim

    sim: RunningSimulator = p.shared.get("source", make)
    return sim


def _new_secret(wh: WarehouseHandle, workdir: Path) -> str:
    """The tenant's hook secret, as `Ordersync.new_hook_secret` makes it (only its hash is stored)."""
    settings = load_settings(overrides={"warehouse": {"url": wh.url}, "dbt": {"state_dir": str(workdir / "dbt")}})
    with Ordersync(settings) as app:
        return app.new_hook_secret(ACCOUNT)


def _configure_hook(sim: RunningSimulator, url: str, secret: str) -> dict[str, Any]:
    body = {"filter": FILTER, "hook": {"url": url, "headers": {SECRET_HEADER: secret}}}
    request = urllib.request.Request(
        f"{sim.base_url(ACCOUNT)}/api/orders/hook/config",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-VTEX-API-AppKey": APP_KEY, "X-VTEX-API-AppToken": APP_TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _spooled(workdir: Path) -> int:
    """Bytes waiting in serve's spool (answered 200, not yet in cdp.hook_inbox)."""
    path = workdir / "hook-spool.ndjson"  # beside ORDERSYNC__DBT__STATE_DIR, as serve puts it
    return path.stat().st_size if path.exists() else 0


def _backlog(wh: WarehouseHandle) -> int:
    with wh.connect() as reader:
        return int(
            reader.scalar("SELECT count(*) FROM cdp.hook_inbox WHERE processed_at IS NULL AND attempts < 20") or 0
        )


def _finish(serve: ServeProcess, wh: WarehouseHandle, workdir: Path, result: TrialResult) -> None:
    """Let serve work through what it was sent, stop it (SIGTERM), and start it again while its
    spool or inbox still holds notifications (a few times at most)."""
    for round_ in range(5):
        # the round that drained the spool fetches and lands; a stop lets it finish
        wait_until(lambda: _spooled(workdir) == 0, timeout=scaled(30), every=0.2)
        code = serve.stop()
        if code not in (0, None):
            result.fail(f"serve exited {code} when stopped: {serve.output()[-400:]}")
        left, spooled = _backlog(wh), _spooled(workdir)
        if not left and not spooled:
            return
        result.note(f"after a stop {left} notifications waited in the inbox and {spooled} bytes in the spool")
        if round_ == 4:
            result.fail(f"serve left {left} notifications unprocessed and {spooled} bytes spooled after 5 rounds")
            return
        serve.start()


def _is_hook(method: str, path: str) -> bool:
    return path.startswith("/v1/hooks/")


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    plan = p.pick(Plan(12, 6), Plan(6, 3), Plan(1, 1))
    sim = _source(p)
    server = PgServer() if p.warehouse != DUCKDB else None
    with dropping(fresh(p.warehouse, p.workdir, "hook", server)) as wh:
        cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", ENV)
        if not steps.setup_tenants(cli, {ACCOUNT: sim.base_url(ACCOUNT)}, result, init=not p.smoke):
            return result
        done = cli.run(["tenants", "set", ACCOUNT, "--change-capture", "hook"])
        if not done.ok:
            result.fail(f"setup: {done.brief()}")
            return result
        secret = _new_secret(wh, p.workdir)
        # the smoke's serve does not build by itself (its one kill is not timed to land in a build)
        serve = ServeProcess(cli, free_port(), {"ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": "3600"} if p.smoke else {})
        try:
            serve.start()
        except RuntimeError as exc:
            result.fail(f"serve: {exc}")
            return result
        with KillRelay(serve.url, serve.kill) as relay:
            since = sim.clock()  # frozen: the hook hears the changes after this instant
            _configure_hook(sim, f"{relay.url}/v1/hooks/vtex/{ACCOUNT}", secret)
            before = sim.events()["hooks"]
            kill_steps = set(rng.sample(range(plan.steps), plan.kills))
            first = 1 if p.smoke else rng.randrange(2)  # the smoke's one kill: right after an answer
            kills = 0
            try:
                for step in range(plan.steps):
                    mode = (RANDOM, AFTER_ANSWER)[(kills + first) % 2]
                    fired = None
                    if step in kill_steps and mode == AFTER_ANSWER and p.smoke:
                        fired = relay.arm(_is_hook, pass_answer=True)  # before the step's first notification
                    sim.advance(STEP_SECONDS)
                    if step not in kill_steps:
                        time.sleep(rng.uniform(0.2, 1.0))
                        continue
                    kills += 1
                    if mode == RANDOM:
                        time.sleep(rng.uniform(0.0, 1.5))
                        killed = serve.kill()
                    else:
                        fired = fired or relay.arm(_is_hook, pass_answer=True)
                        wait = scaled(60) if p.smoke else 15.0  # the smoke's one kill must land
                        if not fired.wait(wait) and p.smoke:
                            result.fail(f"no notification was answered 200 within {wait:g} s of the clock moving")
                        relay.disarm()
                        killed = fired.is_set() and not serve.alive()
                    if killed:
                        result.faults += 1
                        result.note(f"serve killed {mode}")
                    time.sleep(rng.uniform(0.0, 1.5))  # down a while: deliveries fail and are retried
                    if not serve.alive():
                        serve.start()
                hooks = sim.wait_for_hooks(timeout=scaled(180))
            except (RuntimeError, TimeoutError) as exc:
                result.fail(f"{type(exc).__name__}: {exc}")
                hooks = sim.events()["hooks"]
            _finish(serve, wh, p.workdir, result)
        delta = {k: hooks[k] - before[k] for k in ("notifications", "duplicates", "attempted", "failed", "dropped")}
        result.note(
            f"{delta['notifications']} notifications ({delta['duplicates']} sent twice), {delta['attempted']} "
            f"attempts, {delta['failed']} failed and retried"
        )
        if delta["dropped"]:
            result.fail(f"the store gave up on {delta['dropped']} deliveries")
        steps.build(cli, result, "`ordersync build` after the hooks", in_process=p.smoke)
        check_changed_since(result, wh, sim, ACCOUNT, since, "hook")
    return result


register(
    TrialSpec(
        name="hook-kill-9",
        fn=trial,
        title="kill -9 of ordersync serve during Hook deliveries",
        doc=(
            "The simulator's store (160 orders a day) delivers a Hook notification for every change (item "
            "edits included, 5% twice) to `ordersync serve`'s `/v1/hooks/vtex/{tenant}` with the tenant's "
            "secret (from `new_hook_secret`), through a relay that answers 502 while serve is down; failed "
            "deliveries are retried after 0.2 s growing to 2 s. The store's clock moves 30 simulated minutes "
            "at a time (12 steps); at 6 of them serve is SIGKILLed, at a random moment or (every other kill) "
            "right after it answered a notification 200 (the store counts it delivered, only serve's spool "
            "holds it), and restarted on the same port. Once the store has nothing left to deliver, serve is "
            "stopped with SIGTERM (and started again while its spool or inbox still holds notifications). "
            "Checked after `ordersync build`: every order whose lastChange is after the hook was configured "
            "is in fct_orders with the store's status, value and lastChange, once; no other order is built, "
            "nothing but the hook landed, nothing quarantined, no version stored twice, no delivery dropped."
        ),
        published=8,
        short=1,
        smoke_on=(DUCKDB,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "A store of 60 orders a day whose clock moves one 30-minute step, a serve that does not build by "
            "itself. One kill, right after serve answered the step's first notification 200 (the relay is "
            "armed before the clock moves)."
        ),
    )
)
