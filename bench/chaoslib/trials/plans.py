"""`kill -9` of `ordersync plan apply` of a backfill plan.

A store's orders are synced and built, then its clock moves on (payments, invoices, cancellations,
new orders) with no sync: the warehouse has a gap, and a backfill plan drafted with `ordersync
backfill plan` says how to close it. Each trial clones that warehouse and runs `ordersync plan apply
ID` in a child process, SIGKILLing it at moments spread over the apply: during start-up, before its
transaction; right after it took the plan lease, inside its transaction (or just after the commit);
and after it committed, during the build. After each kill the plan is applied whole or not at all:
still drafted with none of its versions landed, nothing recorded for a build and nothing built; or
applied with exactly its versions landed once each and its days left for a build (or built
already). The apply, or the build, then runs to the end, and the days hold the store's truth and
the revenue the plan said.

The smoke trial (the test suite's) drafts a 2-day plan for a store of 10 orders a day and kills the
apply once, inside its transaction (or just after its commit, in the build that follows).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli, Running
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.secrets import KEY_ENV, TOKEN_ENV
from chaoslib.warehouses import PgServer, WarehouseHandle, clone, dropping, fresh, wait_until
from ordersync.simulator.server import RunningSimulator

ACCOUNT = "shop"
GAP_HOURS = 30  # how far the store's clock moves on after the sync, without one
BEFORE, INSIDE, BUILD = "before its transaction", "inside its transaction", "during the build"
TARGETS = (BEFORE, INSIDE, BUILD)  # the order of a trial's kills: a kill in the build ends its drafted state
INSIDE_WINDOW = 0.06  # seconds after the plan lease is taken: an apply transaction of a few hundred versions


@dataclass
class Phases:
    """What the kills are timed by: a CLI command's start-up (`tenants add`: an apply takes its plan
    lease about then) and a build's duration (the first sync's), both measured while preparing."""

    startup: float
    build: float


@dataclass
class Prepared:
    template: WarehouseHandle
    plan_id: str
    plan: dict[str, Any]  # the plan's document, as `backfill plan --json` printed it
    versions: set[tuple[str, str]]  # (order_id, payload_hash) the plan lands
    days: tuple[date, date]
    phases: Phases
    problem: str | None = None


@dataclass
class Snapshot:
    """The warehouse at one moment, as the invariant reads it."""

    status: str | None
    landed_by_plan: list[tuple[str, str]]  # (order_id, payload_hash) of each landing row with run_id = plan
    pending: int
    landing_rows: int
    fct: set[tuple[str, str]]  # (order_id, payload_hash)
    revenue: set[tuple[Any, ...]]
    lease_holder: str | None  # the plan lease's holder, if held
    builds: list[tuple[str, str]]  # (status, worker_id) of builds triggered by a plan
    state: dict[str, Any] = field(default_factory=dict)


def _history(p: TrialParams) -> int:
    """Days of orders in the store: the plan's days and two more."""
    return int(p.option("days")) + 2


def _env(p: TrialParams) -> dict[str, str]:
    return {"ORDERSYNC__SYNC__INITIAL_DAYS": str(_history(p) + 2), "ORDERSYNC__SYNC__LEASE_SECONDS": "3"}


def _source(p: TrialParams) -> RunningSimulator:
    def make() -> RunningSimulator:
        per_day = p.pick(35.0, 20.0, 10.0)
        return p.shared.stack.enter_context(
            sources.simulator(p.group_dir / "source", [(ACCOUNT, per_day)], days=_history(p), seed=29)
        )

    sim: RunningSimulator = p.shared.get("source", make)
    return sim


def _clock(sim: RunningSimulator) -> str:
    return f"{sim.url}/_simulator/clock"


def _prepare(p: TrialParams) -> Prepared:
    """Sync and build, let the store move on, draft the plan: a template warehouse every trial copies."""
    sim = _source(p)
    workdir = p.group_dir / "prepare"
    workdir.mkdir(parents=True, exist_ok=True)
    server = PgServer() if p.warehouse != DUCKDB else None
    template = fresh(p.warehouse, workdir, "tmpl_plan", server)
    p.shared.stack.callback(template.drop)
    cli = Cli(workdir, template.url, _clock(sim), _env(p))
    nothing = Phases(2.0, 3.0)
    empty = (date.min, date.min)

    def failed(problem: str) -> Prepared:
        return Prepared(template, "", {}, set(), empty, nothing, problem)

    added = cli.run(["tenants", "add", ACCOUNT, "--account", ACCOUNT, "--base-url", sim.base_url(ACCOUNT),
                     "--app-key-env", KEY_ENV, "--app-token-env", TOKEN_ENV, "--timezone", "UTC"])  # fmt: skip
    if not added.ok:
        return failed(f"adding the tenant: {added.brief()}")
    setup = TrialResult()
    if p.smoke:  # the first sync lands; its build runs in the harness
        synced = cli.run(["sync", "--json", "--no-build"])
        if synced.ok and not steps.build(cli, setup, "the first build", in_process=True):
            return failed("; ".join(setup.failures))
    else:
        synced = cli.run(["sync", "--json"])
    if not synced.ok or (steps.sync_summary(synced) or {}).get("build_error"):
        return failed(f"the first sync: {synced.brief()}")
    sim.advance(GAP_HOURS * 3600)  # orders change at the store; nobody syncs
    now = sources.settle(sim)
    last = now.date() - timedelta(days=1)
    first = last - timedelta(days=int(p.option("days")) - 1)
    drafted = cli.run(
        ["backfill", "plan", "--tenant", ACCOUNT, "--from", str(first), "--to", str(last), "--by", "chaos", "--json"]
    )
    if not drafted.ok:
        return failed(f"drafting: {drafted.brief()}")
    document = drafted.json()  # the whole plan, as `plan show ID --format json` prints it
    plan_id = str(document["plan_id"])
    with template.connect() as reader:
        versions = {
            (str(o), str(h))
            for o, h in reader.query(
                "SELECT order_id, payload_hash FROM cdp.plan_versions WHERE plan_id = ?", (plan_id,)
            )
        }
        build = float(reader.scalar("SELECT max(seconds) FROM cdp.build_runs WHERE status = 'succeeded'") or 3.0)
    totals = document["plan"]["totals"]
    if not versions or totals["versions_to_land"] != len(versions) or document["status"] != "drafted":
        return failed(f"the plan lands {len(versions)} versions (totals {totals}), status {document['status']}")
    return Prepared(template, plan_id, document, versions, (first, last), Phases(added.seconds, build))


def _snapshot(wh: WarehouseHandle, plan_id: str, workdir: Path) -> Snapshot:
    try:
        reader = wh.connect()
    except Exception:  # a file a killed process left: read a copy instead
        assert wh.path is not None
        copy = workdir / "inspect.duckdb"
        shutil.copyfile(wh.path, copy)
        wal = Path(str(wh.path) + ".wal")
        if wal.exists():
            shutil.copyfile(wal, Path(str(copy) + ".wal"))
        reader = WarehouseHandle(DUCKDB, str(copy), copy.name, path=copy).connect()
    with reader:
        return Snapshot(
            status=reader.scalar("SELECT status FROM cdp.plans WHERE plan_id = ?", (plan_id,)),
            landed_by_plan=[
                (str(o), str(h))
                for o, h in reader.query(
                    "SELECT order_id, payload_hash FROM cdp.orders_landing WHERE run_id = ?", (plan_id,)
                )
            ],
            pending=int(reader.scalar("SELECT count(*) FROM cdp.pending_restatements WHERE plan_id = ?", (plan_id,))),
            landing_rows=int(reader.scalar("SELECT count(*) FROM cdp.orders_landing")),
            fct={(str(o), str(h)) for o, h in reader.query("SELECT order_id, payload_hash FROM cdp.fct_orders")},
            revenue=set(
                reader.query(
                    "SELECT tenant_id, order_date, currency_code, orders, revenue, pending_orders, canceled_orders "
                    "FROM cdp.revenue_daily"
                )
            ),
            lease_holder=reader.scalar(
                "SELECT holder FROM cdp.leases WHERE stream = 'plan' AND holder IS NOT NULL AND lease_until > ?",
                (datetime.now(UTC),),
            ),
            builds=[
                (str(s), str(w))
                for s, w in reader.query("SELECT status, worker_id FROM cdp.build_runs WHERE trigger = 'plan'")
            ],
        )


def _pid_of(holder: str | None) -> int | None:
    parts = (holder or "").split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


def _where(snap: Snapshot, pid: int) -> str:
    """Where the kill landed, read from what it left."""
    if snap.status == "drafted":
        return "inside its transaction" if _pid_of(snap.lease_holder) == pid else "before its transaction"
    if snap.pending == 0:
        return "after the build (before it exited)"
    mine = [s for s, w in snap.builds if _pid_of(w) == pid]
    return "during the build" if mine else "after its transaction committed, before the build began"


def _invariant(
    snap: Snapshot, base: Snapshot, prepared: Prepared, truth: dict[str, checks.Row], days: bool = True
) -> list[str]:
    """Applied whole or not at all. The problems, if any (`days`: check the days when built)."""
    out: list[str] = []
    landed = snap.landed_by_plan
    if snap.status == "drafted":
        if landed:
            out.append(f"the plan is still drafted but {len(landed)} of its versions landed")
        if snap.pending:
            out.append("the plan is still drafted but its days wait in cdp.pending_restatements")
        if snap.landing_rows != base.landing_rows:
            out.append(
                f"the plan is still drafted but the landing table went {base.landing_rows} -> {snap.landing_rows}"
            )
        if (snap.fct, snap.revenue) != (base.fct, base.revenue):
            out.append("the plan is still drafted but fct_orders or revenue_daily changed")
        return out
    if snap.status != "applied":
        return [f"the plan's status is {snap.status!r} (drafted or applied expected)"]
    copies = len(landed) - len(set(landed))
    if copies:
        out.append(f"{copies} of the plan's versions landed more than once")
    if set(landed) != prepared.versions:
        missing = len(prepared.versions - set(landed))
        extra = len(set(landed) - prepared.versions)
        out.append(f"applied with {missing} of its {len(prepared.versions)} versions missing and {extra} others")
    if snap.landing_rows != base.landing_rows + len(prepared.versions):
        out.append(f"landing table {base.landing_rows} -> {snap.landing_rows} for {len(prepared.versions)} versions")
    if snap.pending == 0 and days:  # a build finished the plan: the days must hold it already
        out += [f"no restatement pending, yet {m}" for m in _days_hold(snap, prepared, truth)]
    return out


def _days_hold(snap: Snapshot, prepared: Prepared, truth: dict[str, checks.Row]) -> list[str]:
    """The plan's days against the store's truth and the plan's revenue_after (from the snapshot)."""
    state = snap.state
    out: list[str] = []
    wrong = sorted(o for o, want in truth.items() if state["fct_days"].get(o) != want[:2])
    extra = sorted(set(state["fct_days"]) - set(truth))
    if wrong or extra:
        out.append(f"{len(wrong)} orders of the days differ from the store (e.g. {wrong[:3]}), {len(extra)} extra")
    for day in prepared.plan["plan"]["days"]:
        got = state["revenue_days"].get(day["day"], {})
        if got != day["revenue_after"]:
            out.append(f"{day['day']}: revenue_daily {got}, the plan said {day['revenue_after']}")
    return out


def _day_state(wh: WarehouseHandle, prepared: Prepared, snap: Snapshot) -> None:
    first, last = prepared.days
    with wh.connect() as reader:
        tid = checks.tenant_id(reader, ACCOUNT)
        fct = reader.query(
            "SELECT order_id, status, total_value FROM cdp.fct_orders "
            "WHERE tenant_id = ? AND order_date BETWEEN ? AND ?",
            (tid, first, last),
        )
        revenue = reader.query(
            "SELECT order_date, currency_code, revenue FROM cdp.revenue_daily "
            "WHERE tenant_id = ? AND order_date BETWEEN ? AND ? AND orders > 0",
            (tid, first, last),
        )
    snap.state["fct_days"] = {str(o): (s, int(Decimal(v) * 100)) for o, s, v in fct}
    days: dict[str, dict[str, str]] = {}
    for d, cur, rev in revenue:
        day = d.isoformat() if isinstance(d, date) else str(d)[:10]
        days.setdefault(day, {})[str(cur)] = str(Decimal(rev).quantize(Decimal("0.01")))
    snap.state["revenue_days"] = days


def _truth(sim: RunningSimulator, first: date, last: date) -> dict[str, checks.Row]:
    orders = sources.truth(sim, ACCOUNT)
    rows = checks.truth_rows(orders)
    out: dict[str, checks.Row] = {}
    for o in orders:
        created = checks.parse_time(o["creationDate"]).date()
        if first <= created <= last:
            out[o["orderId"]] = rows[o["orderId"]]
    return out


class LeaseWatch:
    """Tells when a process takes the plan lease, outside ordersync: on PostgreSQL the lease row's
    token grows; on DuckDB (one process at a time: no reading while it runs) the write-ahead log is
    written, and taking the lease is the first write an apply makes. A watcher slowed down by a busy
    machine may look only after the apply committed and checkpointed its log into the file: a file
    changed since the start counts too (unless a log was there to be replayed at the start)."""

    def __init__(self, wh: WarehouseHandle) -> None:
        self.wh = wh
        self.reader = wh.connect() if wh.kind != DUCKDB else None
        self.wal = Path(str(wh.path) + ".wal")
        self.base = self._now()

    def _now(self) -> object:
        if self.reader is not None:
            return self.reader.scalar("SELECT coalesce(max(token), 0) FROM cdp.leases WHERE stream = 'plan'")
        assert self.wh.path is not None
        return (_stat(self.wal), _stat(self.wh.path))

    def taken(self) -> bool:
        now = self._now()
        if self.reader is not None:
            return now != self.base
        assert isinstance(now, tuple) and isinstance(self.base, tuple)
        (wal, main), (base_wal, base_main) = now, self.base
        if wal is not None and wal != base_wal:
            return True
        return base_wal is None and main != base_main  # a WAL removed by a checkpoint at open is no write

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _kill_apply(
    cli: Cli, wh: WarehouseHandle, prepared: Prepared, target: str, rng: random.Random
) -> tuple[Running, bool]:
    """Start `plan apply` and SIGKILL it at a moment in the `target` part: (process, killed).
    Before: within a command's start-up. Inside: up to INSIDE_WINDOW after it took the plan lease
    (its transaction runs then; a kill late in the window lands just after the commit). During the
    build: within a build's duration after that window."""
    watch = LeaseWatch(wh)
    running = cli.spawn(["plan", "apply", prepared.plan_id, "--json"], name="apply-killed")
    try:
        if target == BEFORE:
            time.sleep(rng.uniform(0.0, prepared.phases.startup))  # the kill's moment
        else:
            wait_until(lambda: not running.alive() or watch.taken(), scaled(120), every=0.002)
            if target == INSIDE:
                time.sleep(rng.uniform(0.0, INSIDE_WINDOW))  # the kill's moment
            else:
                time.sleep(rng.uniform(INSIDE_WINDOW, INSIDE_WINDOW + prepared.phases.build))
        killed = running.kill()
    finally:
        watch.close()
        running.kill()  # only if something above raised while it ran
    return running, killed


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    prepared: Prepared = p.shared.get("prepared", lambda: _prepare(p))
    if prepared.problem is not None:
        result.fail(f"setup: {prepared.problem}")
        return result
    sim = _source(p)
    truth = _truth(sim, *prepared.days)
    kills = int(p.option("kills"))
    # the short run: inside the transaction, then during the build; the smoke: inside the transaction
    targets = (INSIDE,) if p.smoke else TARGETS[-kills:]
    with dropping(clone(prepared.template, p.workdir, f"p{p.index}")) as wh:
        cli = Cli(p.workdir, wh.url, _clock(sim), _env(p))
        base = _snapshot(wh, prepared.plan_id, p.workdir)
        snap = base
        for target in targets:
            if snap.status != "drafted":
                break
            running, killed = _kill_apply(cli, wh, prepared, target, rng)
            snap = _snapshot(wh, prepared.plan_id, p.workdir)
            if snap.status == "applied" and snap.pending == 0:
                _day_state(wh, prepared, snap)
            if not killed:
                result.note(f"apply finished (exit {running.proc.returncode}) before the kill aimed {target}")
            else:
                result.faults += 1
                result.note(f"apply killed {_where(snap, running.pid)}")
            result.failures += [f"after a kill aimed {target}: {m}" for m in _invariant(snap, base, prepared, truth)]
        finished = _finish(cli, snap, prepared, result, by_build=p.index % 2 == 1)
        result.note(f"finished by {finished}")
        end = _snapshot(wh, prepared.plan_id, p.workdir)
        _day_state(wh, prepared, end)
        _final_checks(cli, wh, end, base, prepared, truth, result)
        if finished.startswith("plan apply"):  # the apply that finished recorded what it found
            with wh.connect() as reader:
                recorded = reader.scalar("SELECT result FROM cdp.plans WHERE plan_id = ?", (prepared.plan_id,))
            if not recorded or json.loads(recorded).get("matches_plan") is not True:
                result.fail(f"the finishing apply recorded {recorded!r} as the plan's result")
    return result


def _finish(cli: Cli, snap: Snapshot, prepared: Prepared, result: TrialResult, by_build: bool) -> str:
    """Run to the end what the kills left: `plan apply` when the plan is still drafted; when its days
    still wait for a build, `ordersync build` or `plan apply` again (it runs that build). Says which."""
    if snap.status == "drafted" or (snap.pending and not by_build):
        done = steps.run_to_the_end(cli, ["plan", "apply", prepared.plan_id, "--json"], result, wait=4)
        outcome = done.json() if done.ok else {}
        if done.ok and not (outcome.get("applied") and outcome.get("matches_plan")):
            result.fail(f"`plan apply` after the kills: {done.stdout.strip()[:400]}")
        return "plan apply" + (" (its build)" if snap.status == "applied" else "")
    if snap.pending:
        steps.run_to_the_end(cli, ["build"], result, wait=4)
        return "build"
    return "nothing (the killed apply's build had finished)"


def _final_checks(
    cli: Cli,
    wh: WarehouseHandle,
    end: Snapshot,
    base: Snapshot,
    prepared: Prepared,
    truth: dict[str, checks.Row],
    result: TrialResult,
) -> None:
    if end.status != "applied":
        result.fail(f"after the final run the plan is {end.status}")
    if end.pending:
        result.fail(f"after the final run {end.pending} restatements still wait for a build")
    result.failures += _invariant(end, base, prepared, truth, days=False)
    result.failures += _days_hold(end, prepared, truth)
    with wh.connect() as reader:
        state = checks.check_tenant(reader, ACCOUNT, truth, extra_ok={str(r[0]) for r in reader.query(
            "SELECT order_id FROM cdp.fct_orders")})  # fmt: skip
        notices = reader.query(
            "SELECT order_date, currency_code, count(*) FROM cdp.revision_notices GROUP BY order_date, currency_code "
            "HAVING count(*) > 1"
        )
    result.orders_checked += state.checked
    result.versions_lost += state.lost
    result.versions_doubled += state.doubled
    result.failures += state.problems
    if notices:
        result.fail(f"days with more than one revision notice: {notices[:3]}")
    again = cli.run(["plan", "apply", prepared.plan_id, "--json"])
    if not again.ok or again.json().get("applied") is not False:
        result.fail(f"applying the plan again: {again.brief()} {again.stdout.strip()[:200]}")
    after = _snapshot(wh, prepared.plan_id, cli.workdir)
    if (after.landing_rows, after.fct, after.revenue) != (end.landing_rows, end.fct, end.revenue):
        result.fail("applying the plan again changed the warehouse")


register(
    TrialSpec(
        name="plan-apply-kill-9",
        fn=trial,
        title="kill -9 of ordersync plan apply",
        doc=(
            "A store of 35 orders a day is synced and built; then its clock moves 30 hours on without a sync "
            "(payments, invoices, cancellations, new orders), and `ordersync backfill plan` drafts a 14-day "
            "backfill plan to close the gap (5 days of a 20-a-day store in the short run). Each trial applies "
            "it to a copy of that warehouse: `ordersync plan apply` (a child process) is SIGKILLed up to three "
            "times, once in each part of the apply while the plan is still drafted: during start-up, before "
            "its transaction (a moment within a command's measured start-up); within 60 ms of taking the plan "
            "lease, inside its transaction or just after its commit (the harness watches the lease row on "
            "PostgreSQL, the write-ahead log on DuckDB); and during the build that follows (a moment within a "
            "build's measured duration). After each kill the plan is applied whole or not at all: still "
            "drafted, with none of its versions landed, nothing in cdp.pending_restatements and fct_orders and "
            "revenue_daily untouched; or applied, with exactly its versions landed once each (run_id = the "
            "plan) and its days waiting for a build, or built already and holding the truth. Then `plan apply` "
            "runs to the end (still drafted), or, when the days wait, `ordersync build` or `plan apply` again "
            "(every other trial). Checked: the plan's days in fct_orders hold the store's orders with their "
            "status, value and lastChange; revenue_daily holds the plan's revenue_after per day and currency; "
            "no version is stored twice; nothing is pending; no day has two revision notices; a finishing "
            "apply recorded that the result matches the plan; applying the plan again says it was applied "
            "before and changes nothing."
        ),
        published=5,
        short=1,
        smoke_on=(POSTGRES,),  # the suite's smoke: one warehouse (the published runs: both)
        short_on=(DUCKDB,),  # about 30 s a warehouse (two dbt builds): PostgreSQL in the published run
        smoke_doc=(
            "A 2-day plan of a store of 10 orders a day. One kill, within 60 ms of the apply taking the plan "
            "lease (inside its transaction, or just after its commit); then `plan apply` runs to the end."
        ),
        options={"kills": 3, "kills_short": 2, "kills_smoke": 1, "days": 14, "days_short": 5, "days_smoke": 2},
    )
)
