"""`kill -9` at a random moment of `ordersync sync` (incremental, historical, full) or `ordersync build`.

Each trial clones a warehouse prepared for its mode, starts the command, SIGKILLs it at a moment drawn
uniformly within the command's measured duration (start-up included: a user's kill can land
anywhere), runs the command again to the end, and compares the end state with the source's truth.

The smoke trial (the test suite's) kills the first incremental sync of a small store part-way
through landing, whatever the machine's speed: the proxy in front of the store kills it as one of
its get-orders arrives, late enough that a landing batch has committed (the sync asks for the next
order only after it handed on the one before, and hands on a batch only once the one before it
committed), early enough that the last batch has not.
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli, Done
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.warehouses import PgServer, WarehouseHandle, clone, dropping, fresh
from ordersync.simulator.server import RunningSimulator

MODES = ("incremental", "build", "historical", "full")  # short runs: DuckDB takes the first two
ACCOUNT = "shop"
DAYS = 10  # of history in the store
LIVE_DAYS = 9  # the historical tenant's go-live, days back
LEASE = 3.0
LATENCY = 0.03  # seconds per get-order, as a store far away would answer
SMOKE_BATCH = 5  # the smoke's landing batch: several land in a store of about 40 orders
SMOKE_CONCURRENCY = 2  # the sync has at most twice this many get-orders in flight


@dataclass
class Prepared:
    template: WarehouseHandle
    seconds: float  # the command's measured duration, uninterrupted
    since: datetime | None  # orders created before this are never synced (go-live)
    problem: str | None = None


def _commands(mode: str) -> tuple[list[str], list[str]]:
    """(the command killed, the final run)."""
    if mode == "build":
        return ["build"], ["build"]
    sync = ["sync", "--tenant", ACCOUNT, "--mode", mode, "--json"]
    return [*sync, "--no-build"], sync


def _days(p: TrialParams) -> int:
    return p.pick(DAYS, DAYS, 2)


def _env(p: TrialParams) -> dict[str, str]:
    return {
        "ORDERSYNC__SYNC__INITIAL_DAYS": str(_days(p) + 2),
        "ORDERSYNC__SYNC__HISTORICAL_BATCH_DAYS": "2",  # several checkpoints to be killed between
        "ORDERSYNC__SYNC__BATCH_SIZE": str(p.pick(100, 100, SMOKE_BATCH)),
        "ORDERSYNC__SYNC__LEASE_SECONDS": str(LEASE),
        **({"ORDERSYNC__SYNC__CONCURRENCY": str(SMOKE_CONCURRENCY)} if p.smoke else {}),
    }


@dataclass
class Source:
    sim: RunningSimulator
    proxy: sources.ChaosProxy  # a little latency per get-order, so the sync is longer than start-up

    @property
    def clock(self) -> str:
        return f"{self.sim.url}/_simulator/clock"


def _source(p: TrialParams) -> Source:
    def make() -> Source:
        per_day = p.pick(60.0, 40.0, 20.0)
        sim = p.shared.stack.enter_context(
            sources.simulator(p.group_dir / "source", [(ACCOUNT, per_day)], days=_days(p), seed=17, fault_rate=0.0)
        )
        sources.settle(sim)
        proxy = p.shared.stack.enter_context(sources.ChaosProxy(sim.url))
        proxy.delay = 0.0 if p.smoke else LATENCY  # the smoke's kill is timed by the requests, not the clock
        return Source(sim, proxy)

    source: Source = p.shared.get("source", make)
    return source


def _prepare(p: TrialParams, mode: str) -> Prepared:
    source = _source(p)
    now = source.sim.clock()
    workdir = p.group_dir / f"prepare-{mode}"
    workdir.mkdir(parents=True, exist_ok=True)
    server = PgServer() if p.warehouse != "duckdb" else None
    template = fresh(p.warehouse, workdir, f"tmpl_{mode[:4]}", server)
    p.shared.stack.callback(template.drop)
    clock = source.clock
    cli = Cli(workdir, template.url, clock, _env(p))
    setup = TrialResult()
    live = (now - timedelta(days=LIVE_DAYS)).date() if mode == "historical" else None
    since = datetime(live.year, live.month, live.day, tzinfo=UTC) if live else None
    if not steps.setup_tenants(cli, {ACCOUNT: source.proxy.base_url(ACCOUNT)}, setup, go_live=live, init=not p.smoke):
        return Prepared(template, 3.0, since, "; ".join(setup.failures))
    if mode in ("historical", "build"):
        done = cli.run(["sync", "--no-build", "--json"])  # the first incremental
    elif mode == "full":
        # an incremental two days ago: the full sync then has the last two days to find and land
        earlier = (now - timedelta(days=2)).isoformat()
        done = cli.run(["sync", "--no-build", "--json"], env={"ORDERSYNC__CLOCK": earlier})
    else:
        done = None
    if done is not None and not done.ok:
        return Prepared(template, 3.0, since, f"preparing {mode}: {done.brief()}")
    if p.smoke:  # its kill is timed by the requests the sync makes: nothing to measure
        return Prepared(template, 0.0, since)
    # measure the command once, uninterrupted, on a copy
    killed_cmd, _ = _commands(mode)
    probe_dir = workdir / "measure"
    probe_dir.mkdir(exist_ok=True)
    with dropping(clone(template, probe_dir, f"meas_{mode[:4]}")) as probe:
        measured = Cli(probe_dir, probe.url, clock, _env(p)).run(killed_cmd)
    if not measured.ok:
        return Prepared(template, max(measured.seconds, 1.0), since, f"uninterrupted {mode}: {measured.brief()}")
    return Prepared(template, measured.seconds, since)


def _landed(wh: WarehouseHandle) -> int | None:
    """Versions in the landing table (how far a killed command got), None when it cannot be read."""
    try:
        with wh.connect() as reader:
            return int(reader.scalar("SELECT count(*) FROM cdp.orders_landing"))
    except Exception:  # a file a killed process left may not open read-only: only a note then
        return None


def _phase(mode: str, before: int | None, at_kill: int | None, after: int | None) -> str:
    """Where the kill landed, in words the report can count."""
    if mode == "build":
        return "during the build"
    if at_kill is None or before is None or after is None:
        return "(landing table unreadable right after the kill)"
    if at_kill == before:
        return "before it landed anything"
    if at_kill >= after:
        return "after it had landed everything"
    return "part-way through landing"


def _killed_in_landing(cli: Cli, source: Source, args: list[str], rng: random.Random) -> Done:
    """The smoke's kill: run `args` (a first incremental sync: every order is fetched) and SIGKILL it
    as its get-order number `at` reaches the store's proxy. The sync asks for order n + 2 x
    concurrency only once it has handed on order n, and hands on batch k + 1 only after batch k
    committed: from n = 2 batches on, the first batch has committed. A batch more is still to come."""
    orders = len(sources.truth(source.sim, ACCOUNT))
    first = 2 * SMOKE_BATCH + 2 * SMOKE_CONCURRENCY + 1
    at = rng.randint(first, max(first, orders - SMOKE_BATCH))
    began = time.perf_counter()
    running = cli.spawn(args)
    killed: list[bool] = []

    def kill() -> bool:
        killed.append(running.kill())
        return killed[-1]

    fired = source.proxy.kill_at_get(at, kill)
    try:
        running.wait(600, f"`ordersync {args[0]}` to end (to be killed at its get-order {at} of {orders})")
    finally:
        source.proxy.disarm()
    if running.proc.returncode == -signal.SIGKILL:
        fired.wait(scaled(30))  # the proxy's kill: it records it once the kill returned, maybe after this saw the end
    done = running.done(time.perf_counter() - began)
    done.killed = killed == [True]
    return done


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    offset = 0 if p.warehouse == "duckdb" else 2  # a short run covers two modes per warehouse, all four in all
    mode = "incremental" if p.smoke else MODES[(p.index + offset) % len(MODES)]
    prepared: Prepared = p.shared.get(f"prepared:{mode}", lambda: _prepare(p, mode))
    if prepared.problem is not None:
        result.fail(f"{mode}: {prepared.problem}")
        return result
    source = _source(p)
    killed_cmd, final_cmd = _commands(mode)
    with dropping(clone(prepared.template, p.workdir, f"k{p.index}")) as wh:
        cli = Cli(p.workdir, wh.url, source.clock, _env(p))
        before = _landed(wh)
        if p.smoke:
            killed = _killed_in_landing(cli, source, killed_cmd, rng)
        else:
            killed = cli.killed_at(killed_cmd, rng.uniform(0.0, prepared.seconds))
        at_kill = _landed(wh)
        if p.smoke:  # the final sync lands; its build runs in the harness (steps.build)
            steps.run_to_the_end(cli, killed_cmd, result, wait=LEASE + 1)
            steps.build(cli, result, f"{mode}: the build after the final run", in_process=True)
        else:
            steps.run_to_the_end(cli, final_cmd, result, wait=LEASE + 1)
        if killed.killed:
            result.faults += 1
            result.note(f"{mode}: killed {_phase(mode, before, at_kill, _landed(wh))}")
        else:
            result.note(f"{mode}: finished (exit {killed.code}) before the kill")
        truth = checks.truth_rows(sources.truth(source.sim, ACCOUNT), prepared.since)
        with wh.connect() as reader:
            state = checks.check_tenant(reader, ACCOUNT, truth)
            left_running = reader.scalar("SELECT count(*) FROM cdp.sync_runs WHERE status = 'running'")
        if left_running:
            result.fail(f"{mode}: {left_running} runs are still marked running after the final run")
    result.orders_checked += state.checked
    result.versions_lost += state.lost
    result.versions_doubled += state.doubled
    result.failures += [f"{mode}: {m}" for m in state.problems]
    return result


register(
    TrialSpec(
        name="kill-9",
        fn=trial,
        title="kill -9 during sync and build",
        doc=(
            "A store of about 600 orders over 10 days. Each trial clones a warehouse prepared for one of four "
            "commands, in turn: the first incremental `sync`, a `sync --mode historical` from a go-live date 9 "
            "days back (2-day batches), a `sync --mode full` after an incremental two days old, and `build` "
            "after a sync. It SIGKILLs the command at a moment drawn uniformly within its measured duration, "
            "runs it again to the end (the final syncs build), and checks every source order in fct_orders "
            "with its current status, value and lastChange, no landed version stored twice, one fct_orders "
            "row per order, no run left `running`, and a passing dbt build (its tests)."
        ),
        published=50,
        short=2,
        smoke_on=(DUCKDB,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "A store of about 40 orders over 2 days, landed 5 versions a transaction. The first incremental "
            "`sync` is SIGKILLed as its get-order number 15 or later (drawn up to the fifth-last order) reaches "
            "the store's proxy: the sync asks for the next order only once it handed on the one before, and "
            "hands on a batch only once the one before it committed, so at least one batch has landed and the "
            "last has not. It then runs again to the end, and a build follows."
        ),
    )
)
