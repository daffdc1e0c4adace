"""`kill -9` of `ordersync feed poll` at random moments and between its landing and its commit.

The simulator's Feed v3 (every change, item edits included; 5% of events enqueued twice; 240 s of
simulated visibility) is read through a relay in front of the store. The store's clock moves in
steps and a feed round runs after each; some rounds are SIGKILLed, at a random moment or as their
commit reaches the relay (the landing transaction has committed, the events are not): their events
reappear after the visibility timeout and are read again. At the end every order that changed after
the feed was configured is in fct_orders as the store has it, each version stored once.

The smoke trial (the test suite's) moves the clock of a store of 60 orders a day one step (more while
the feed holds fewer than a few events: a round to be killed needs some) and kills that step's round
as its commit reaches the relay (after its landing transaction committed).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
import urllib.request
from typing import Any

from chaoslib import sources, steps
from chaoslib.commands import Cli, Running
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.secrets import APP_KEY, APP_TOKEN
from chaoslib.serving import KillRelay
from chaoslib.trials.capture import check_changed_since
from chaoslib.warehouses import PgServer, dropping, fresh
from ordersync.simulator.server import RunningSimulator

ACCOUNT = "shop"
LEASE = 3.0
VISIBILITY = 240  # simulated seconds a read hides its events
STEP_SECONDS = 30 * 60
ENV = {"ORDERSYNC__SYNC__LEASE_SECONDS": str(LEASE)}
#: Every change of an order, item edits included (a FromWorkflow filter hears status changes only).
FILTER = {"type": "FromOrders", "expression": "value >= 0", "disableSingleFire": True}
POLL = ["feed", "poll", "--tenant", ACCOUNT, "--json"]
#: events a round to be killed must find in the feed, and the steps the clock may move to get them
KILL_EVENTS, MAX_QUIET_STEPS = 3, 48
RANDOM, BEFORE_COMMIT = "at a random moment", "after landing, as its commit reached the store"


def _source(p: TrialParams) -> RunningSimulator:
    def make() -> RunningSimulator:
        per_day = p.pick(160.0, 100.0, 60.0)
        sim = p.shared.stack.enter_context(
            sources.simulator(p.group_dir / "source", [(ACCOUNT, per_day)], days=3, seed=31, index_lag_seconds=0)
        )
        sim.set_event_settings(duplicate_rate=0.05)
        return sim

    sim: RunningSimulator = p.shared.get("source", make)
    return sim


def _configure_feed(sim: RunningSimulator) -> dict[str, Any]:
    body = {
        "filter": FILTER,
        "queue": {"visibilityTimeoutInSeconds": VISIBILITY, "MessageRetentionPeriodInSeconds": 345_600},
    }
    request = urllib.request.Request(
        f"{sim.base_url(ACCOUNT)}/api/orders/feed/config",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-VTEX-API-AppKey": APP_KEY, "X-VTEX-API-AppToken": APP_TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _feed(sim: RunningSimulator) -> dict[str, Any]:
    feeds: list[dict[str, Any]] = sim.events()["feeds"]
    return next((f for f in feeds if f.get("account") == ACCOUNT), {})


def _rounds(done: Any) -> list[dict[str, Any]]:
    try:
        value = done.json()
    except ValueError:
        return []
    return value if isinstance(value, list) else []


class _Poller:
    """The feed round in flight, for the relay to kill from its thread."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.running: Running | None = None
        self._lock = threading.Lock()

    def spawn(self) -> Running:
        with self._lock:
            self.running = self.cli.spawn(POLL, name="feed-poll")
            return self.running

    def kill(self) -> bool:
        with self._lock:
            running = self.running
        return running is not None and running.kill()


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    step_count, kill_count = p.pick((12, 6), (6, 3), (1, 1))
    sim = _source(p)
    server = PgServer() if p.warehouse != DUCKDB else None
    with dropping(fresh(p.warehouse, p.workdir, "feed", server)) as wh:
        cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", ENV)
        poller = _Poller(cli)
        with KillRelay(sim.url, poller.kill) as relay:
            if not steps.setup_tenants(cli, {ACCOUNT: f"{relay.url}/{ACCOUNT}"}, result, init=not p.smoke):
                return result
            done = cli.run(["tenants", "set", ACCOUNT, "--change-capture", "feed"])
            if not done.ok:
                result.fail(f"setup: {done.brief()}")
                return result
            since = sim.clock()  # frozen: the feed holds the changes after this instant
            _configure_feed(sim)
            before = _feed(sim)
            kill_steps = set(rng.sample(range(step_count), kill_count))
            first = 1 if p.smoke else rng.randrange(2)  # the smoke's one kill: as the commit arrives
            kills, measured = 0, 2.0
            for step in range(step_count):
                sim.advance(STEP_SECONDS)
                if step in kill_steps and not _until_events(sim, result):
                    return result
                if step not in kill_steps:
                    ran = cli.run(POLL)
                    if ran.ok:
                        measured = ran.seconds
                    else:
                        result.note(f"a feed round failed: {ran.brief()[:200]}")
                    continue
                mode = (RANDOM, BEFORE_COMMIT)[(kills + first) % 2]
                kills += 1
                if mode == RANDOM:
                    running = poller.spawn()
                    try:
                        running.proc.wait(timeout=rng.uniform(0.0, measured))
                        killed = False
                    except subprocess.TimeoutExpired:
                        killed = poller.kill()
                else:
                    fired = relay.arm(
                        lambda method, path: method == "POST" and path.endswith("/orders/feed"), before=True
                    )
                    running = poller.spawn()
                    try:
                        running.wait(120, "`ordersync feed poll` to end (to be killed as its commit arrives)")
                    finally:
                        relay.disarm()
                    # a SIGKILL here is the relay's: it flags it once the kill has returned, which may
                    # be after this thread saw the process end
                    killed = fired.wait(scaled(30)) if running.proc.returncode == -signal.SIGKILL else fired.is_set()
                if killed:
                    result.faults += 1
                    result.note(f"feed poll killed {mode}")
                else:
                    result.note(f"feed poll finished before the kill {mode} (exit {running.proc.returncode})")
            _drain(cli, sim, result)
            after = _feed(sim)
        redelivered = int(after.get("redelivered", 0)) - int(before.get("redelivered", 0))
        result.note(f"{redelivered} events read again after a round did not commit them")
        steps.build(cli, result, "`ordersync build` after the feed rounds", in_process=p.smoke)
        check_changed_since(result, wh, sim, ACCOUNT, since, "feed")
    return result


def _until_events(sim: RunningSimulator, result: TrialResult) -> bool:
    """A round to be killed needs events to read and commit: the store's clock moves on, a step at a
    time, until its feed holds some (a quiet half hour of a small store may change no order)."""
    for _ in range(MAX_QUIET_STEPS):
        if int(_feed(sim).get("quantity", 0)) >= KILL_EVENTS:
            return True
        sim.advance(STEP_SECONDS)
    result.fail(f"the feed held fewer than {KILL_EVENTS} events after {MAX_QUIET_STEPS} more steps")
    return False


def _drain(cli: Cli, sim: RunningSimulator, result: TrialResult) -> None:
    """Feed rounds, the clock moved past the visibility timeout before each, until the feed is empty."""
    for _ in range(12):
        if _feed(sim).get("quantity") == 0:
            return
        sim.advance(VISIBILITY + 1)
        ran = cli.run(POLL)
        if any(r.get("status") == "busy" for r in _rounds(ran)):
            time.sleep(LEASE + 0.5)  # the killed round's lease runs out
    result.fail(f"the feed still holds {_feed(sim).get('quantity')} events after 12 more rounds")


register(
    TrialSpec(
        name="feed-kill-9",
        fn=trial,
        title="kill -9 of the feed consumer",
        doc=(
            "The simulator's store (160 orders a day) with a Feed v3 for ordersync's app key (every change, "
            "item edits included, 5% enqueued twice, 240 simulated seconds of visibility), read through a "
            "relay. The store's clock moves 30 simulated minutes at a time (12 steps) and `ordersync feed "
            "poll` runs after each; at 6 of them (the clock moved on until the feed holds a few events) it is "
            "SIGKILLed, at a random moment within a round's "
            "measured duration or (every other kill) as its commit reaches the relay, after its landing "
            "transaction committed. Then rounds run, the clock moved past the visibility timeout before "
            "each, until the feed is empty. Checked after `ordersync build`: every order whose lastChange "
            "is after the feed was configured is in fct_orders with the store's status, value and "
            "lastChange, once; no other order is built, nothing but the feed landed, nothing quarantined, "
            "no version stored twice."
        ),
        published=8,
        short=1,
        smoke_on=(POSTGRES,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "A store of 60 orders a day whose clock moves one 30-minute step (more until its feed holds a few "
            "events); that step's round is killed as "
            "its commit reaches the relay (its landing has committed), then rounds run until the feed is empty."
        ),
    )
)
