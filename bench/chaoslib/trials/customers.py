"""`kill -9` of the customers step, and of `ordersync notices send` delivering the customers' change events.

A push tenant's people (chaoslib/people.py: platform ids, emails, CPFs, guest orders) land in two
batches. The warehouse every trial of a group copies: the first batch built with customers kept (their
first computation, its events initial), then the second built without (so the step has new orders,
merges, splits and late cancellations to keep). The smoke's: both batches in one build, customers
never computed, so the step killed is the first computation (links, breakpoints, the CLV fit, scores).
Every process runs at one fixed clock: one scoring date.

Part one: `ordersync customers recompute` (the step every build runs) or `customers recompute --full`,
in turn, on a copy, SIGKILLed at a moment drawn uniformly within the span its step took in an
uninterrupted run of the same command (from taking the tenant's customers lease to letting it go:
the lease row's times). Where the kill landed is read from the warehouse once the process is gone:
the lease still held by it and no run recorded is inside the step; a kill that landed before or
after is made again on a fresh copy, the window narrowed. Then the command runs again to the end,
and the customers' tables (identifiers, orders, profiles, RFM, CLV, journey, state, frozen
breakpoints, models, runs, events) must equal the uninterrupted run's, events compared by id; no
run may be left other than succeeded, and the lease must be free.

Part two, on the same warehouse: `ordersync notices send` delivers every event batch (initial ones
too) to two local JSON webhooks that answer 500 to 15% of the requests, and is SIGKILLed at a random
moment of its delivery (within half a second of its first request) and, every other kill, right
after a webhook got a batch and before its answer went back. Then it runs until a round delivers
everything. Every event id must have reached both webhooks in a 2xx-answered request, every request
carry the events of one batch of the outbox (its id in header and body), every batch held at a kill
be sent again, cdp.customer_event_deliveries record every delivery and give none up, no raw
identifier travel, and the webhook URLs appear nowhere.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoslib.commands import Cli, Done, Running
from chaoslib.customer_tables import Snapshot, compare, snapshot
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.people import population
from chaoslib.receivers import (
    AFTER_SEND,
    DURING,
    Got,
    Receivers,
    kill_sends,
    send_until_delivered,
    serving,
    url_leaks,
)
from chaoslib.steps import BUSY_EXIT
from chaoslib.warehouses import PgServer, Reader, WarehouseHandle, clone, dropping, fresh, poll, wait_until
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.customers.events import BATCH_ID_HEADER
from ordersync.facade import Ordersync

TENANT = "people"
#: Every process's clock: one scoring date for the clean run and the killed one.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SEED = 23
#: A CLV model is fitted for the smoke's 150 people too (the default asks for 100 repeat buyers).
MIN_REPEAT_BUYERS = 20
MODES = ("step", "full")
BEFORE, INSIDE, AFTER = "before the step took its lease", "inside the step", "after the step committed"
ATTEMPTS = 6  # kills per trial to land one inside the step
#: In the webhook URLs' path: found anywhere in the trial's files or records, a URL leaked.
URL_SECRET = "T0CHAOS-cdp-S3cr3t-w4Tn"
HOOKS = ("CHAOS_CDP_HOOK_A", "CHAOS_CDP_HOOK_B")


#: What the step logs as it starts, its tenant's lease held (customers/step.py).
STARTED = f"run of {TENANT} started"


def _command(mode: str, logged: bool = False) -> list[str]:
    """The mode's command; `logged`: with its info lines on stderr (the step's start among them)."""
    flags = ["--log-level", "info"] if logged else []
    return [*flags, "customers", "recompute", "--tenant", TENANT, *(["--full"] if mode == "full" else []), "--json"]


def _env(key: Path) -> dict[str, str]:
    return {
        "ORDERSYNC__CUSTOMERS__ENABLED": "true",
        "ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE": str(key),
        "ORDERSYNC__CUSTOMERS__MIN_REPEAT_BUYERS": str(MIN_REPEAT_BUYERS),
    }


def _cli(workdir: Path, wh: WarehouseHandle, key: Path, extra: dict[str, str] | None = None) -> Cli:
    return Cli(workdir, wh.url, NOW.isoformat(), {**_env(key), **(extra or {})})


def _succeeded(done: Done, mode: str) -> bool:
    """The command's --json lists a succeeded run of its kind."""
    try:
        runs = done.json()
    except ValueError:
        return False
    return any(r.get("kind") == mode and r.get("status") == "succeeded" for r in runs)


# -- what every trial of a group shares ------------------------------------------------------------


@dataclass
class Prepared:
    template: WarehouseHandle
    key: Path  # the identity secret the template's customer keys come from
    runs: int = 0  # customer runs the template records
    problem: str | None = None


def _prepare(p: TrialParams) -> Prepared:
    """The template, in the harness's process (ingest and build as the commands do them)."""
    workdir = p.group_dir / "prepare"
    workdir.mkdir(parents=True, exist_ok=True)
    template = fresh(p.warehouse, workdir, "cust_tmpl", PgServer() if p.warehouse != DUCKDB else None)
    p.shared.stack.callback(template.drop)
    key = p.group_dir / "identity.key"
    people = population(p.pick(1500, 600, 150), NOW, SEED)
    paths = []
    for which in (0, 1):
        paths.append(workdir / f"people-{which}.ndjson")
        paths[-1].write_bytes(people.lines(which))
    rounds = [paths] if p.smoke else [paths[:1], paths[1:]]
    for n, files in enumerate(rounds):
        keep = not p.smoke and n == 0
        overrides: dict[str, Any] = {
            "warehouse": {"url": template.url},
            "dbt": {"state_dir": str(workdir / "dbt")},
            "customers": {"enabled": keep, "identity_key_file": str(key), "min_repeat_buyers": MIN_REPEAT_BUYERS},
        }
        with Ordersync(load_settings(overrides=overrides), clock=ManualClock(NOW)) as app:
            if n == 0:
                app.add_tenant(TENANT, platform="push", account=None, base_url=None, app_key_env=None,
                               app_token_env=None)  # fmt: skip
            landed = sum(r.landed for r in app.ingest_files(TENANT, files))
            want = sum(len(people.first if f == paths[0] else people.second) for f in files)
            if landed != want:
                return Prepared(template, key, problem=f"ingest landed {landed} of {want} order events")
            app.build()
    with template.connect() as reader:
        runs = reader.query("SELECT status, error FROM cdp.customer_runs")
    if [r[0] for r in runs] != (["succeeded"] if not p.smoke else []):
        return Prepared(template, key, problem=f"the first build kept customers as {runs}")
    return Prepared(template, key, len(runs))


@dataclass
class Clean:
    """An uninterrupted run of a mode's command on a copy of the template, and when its step ran:
    from the moment it took the tenant's customers lease to the moment it let it go, in seconds
    after the command started (the lease's times are the warehouse's clock)."""

    snapshot: Snapshot | None
    step_from: float = 0.0
    step_to: float = 0.0
    problem: str | None = None


def _clean(p: TrialParams, prepared: Prepared, mode: str) -> Clean:
    workdir = p.group_dir / f"clean-{mode}"
    workdir.mkdir(parents=True, exist_ok=True)
    with dropping(clone(prepared.template, workdir, f"clean_{mode}")) as wh:
        began = time.time()
        done = _cli(workdir, wh, prepared.key).run(_command(mode))
        if not done.ok or not _succeeded(done, mode):
            return Clean(None, problem=f"the uninterrupted {mode} run: {done.brief()}")
        with wh.connect() as reader:
            taken, freed = reader.query("SELECT acquired_at, lease_until FROM cdp.leases WHERE stream = 'customers'")[0]
            snap = snapshot(reader)
    step_from, step_to = taken.timestamp() - began, freed.timestamp() - began
    if not 0 < step_from < step_to < done.seconds:  # clocks that disagree: the whole command then
        step_from, step_to = 0.0, done.seconds
    return Clean(snap, step_from, step_to)


# -- part one: the step ----------------------------------------------------------------------------


def _sessions_gone(wh: WarehouseHandle) -> bool:
    """PostgreSQL: the killed process's sessions have ended (the server rolled its transaction back)."""
    if wh.kind == DUCKDB:
        return True
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    return wait_until(lambda: (poll(wh.url, query) or [(1,)])[0][0] == 0, scaled(60), every=0.05)


def _phase(wh: WarehouseHandle, pid: int, runs_before: int) -> str | None:
    """Where a kill of process `pid` landed, read from the warehouse (None: unreadable)."""
    try:
        with wh.connect() as reader:
            holder = reader.scalar("SELECT holder FROM cdp.leases WHERE stream = 'customers'")
            runs = int(reader.scalar("SELECT count(*) FROM cdp.customer_runs"))
    except Exception:  # a file a killed process left may not open read-only: try again elsewhere
        return None
    if runs > runs_before:
        return AFTER
    if holder is not None and str(holder).split(":")[1:2] == [str(pid)]:
        return INSIDE
    return BEFORE


def _step_started(running: Running) -> bool:
    """The command's step said it started (or the command is gone)."""
    return not running.alive() or STARTED in running.err.read_text(errors="replace")


def _kill_in_step(
    p: TrialParams, prepared: Prepared, clean: Clean, mode: str, rng: random.Random, result: TrialResult
) -> WarehouseHandle | None:
    """A copy of the template whose `mode` command was SIGKILLed inside the step; None (a failure
    said) when ATTEMPTS kills all landed elsewhere. The moment is drawn after the step said it
    started (its log line), within the span the clean run's step took: a loaded machine delays the
    command's start-up, never where the kill lands."""
    lo, hi = 0.0, max(clean.step_to - clean.step_from, 0.05)
    missed: list[str] = []
    for attempt in range(ATTEMPTS):
        wh = clone(prepared.template, p.workdir, f"kill{p.index}_{attempt}")
        cli = _cli(p.workdir, wh, prepared.key)
        at = (lo + hi) / 2 if p.smoke else rng.uniform(lo, hi)
        running = cli.spawn(_command(mode, logged=True), name=f"{mode}-killed-{attempt}")
        wait_until(functools.partial(_step_started, running), scaled(300))
        try:
            running.proc.wait(timeout=at)
            phase: str | None = AFTER
        except subprocess.TimeoutExpired:
            running.kill()
            phase = _phase(wh, running.pid, prepared.runs) if _sessions_gone(wh) else None
        running.wait(60, "the killed command to end")
        if phase == INSIDE:
            result.faults += 1
            before = f" (missed first: {', '.join(missed)})" if missed else ""
            window = f"the clean run's step took {hi:.2f} s" if not missed else "the window narrowed"
            result.note(f"{mode}: killed inside the step, {at:.2f} s after it started ({window}){before}")
            return wh
        missed.append(f"{at:.2f} s: {phase or 'unreadable'}")
        if phase == BEFORE:
            lo = at
        elif phase == AFTER:
            hi = at
        wh.drop()
    result.fail(f"{mode}: no kill of {ATTEMPTS} landed inside the step: {'; '.join(missed)}")
    return None


def _to_the_end(cli: Cli, mode: str, result: TrialResult) -> bool:
    """The command again, until it records its run (a step that finds the tenant busy lists none)."""
    for _ in range(4):
        done = cli.run(_command(mode))
        if done.ok and _succeeded(done, mode):
            return True
        if done.code != BUSY_EXIT and not done.ok:
            break
        result.note(f"{mode}: the run after the kill recorded no run (busy?); ran again")
        time.sleep(1)
    result.fail(f"{mode}: the run after the kill: {done.brief()}")
    return False


def _check_step(result: TrialResult, reader: Reader, clean: Snapshot, mode: str) -> None:
    got = snapshot(reader)
    diff = compare(clean, got)
    result.orders_checked += got.rows("customer_orders")
    result.versions_lost += diff.lost
    result.versions_doubled += diff.doubled
    result.failures += [f"{mode}: {m}" for m in diff.problems]
    other = reader.query("SELECT kind, status, error FROM cdp.customer_runs WHERE status <> 'succeeded'")
    if other:
        result.fail(f"{mode}: customer runs left other than succeeded: {other[:3]}")
    held = reader.query("SELECT holder FROM cdp.leases WHERE stream = 'customers' AND holder IS NOT NULL")
    if held:
        result.fail(f"{mode}: the customers lease is still held after the final run")
    if len(got.event_ids) == 0:
        result.fail(f"{mode}: the step wrote no event: nothing to deliver")


# -- part two: delivery ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    hook: str
    status: int
    header_id: str | None
    batch_id: str | None
    event_ids: tuple[str, ...]


def _request(got: Got) -> _Request:
    try:
        body = json.loads(got.body)
        batch_id, ids = body.get("batch_id"), tuple(str(e["id"]) for e in body["events"])
    except (ValueError, AttributeError, KeyError, TypeError):
        batch_id, ids = None, ()
    return _Request(got.hook, got.status, got.headers.get(BATCH_ID_HEADER.lower()), batch_id, ids)


def _deliver(p: TrialParams, wh: WarehouseHandle, key: Path, rng: random.Random, result: TrialResult) -> None:
    rec = Receivers(URL_SECRET, fail_rate=0.15, rng=random.Random(rng.random()))
    with serving(rec):
        cli = _cli(
            p.workdir,
            wh,
            key,
            {
                "ORDERSYNC__CUSTOMERS__WEBHOOK_URL_ENVS": json.dumps(list(HOOKS)),
                "ORDERSYNC__CUSTOMERS__DELIVER_INITIAL": "true",
                "ORDERSYNC__CUSTOMERS__BACKOFF_SECONDS": "0",
                **{name: rec.url(name) for name in HOOKS},
            },
        )
        modes = (DURING, AFTER_SEND)
        kill_sends(cli, rec, rng, int(p.option("kills")), result, first=1 if p.smoke else None, modes=modes)
        send_until_delivered(
            cli,
            result,
            lambda summary: all(w["waiting"] == 0 for w in summary.get("customer_events", {}).get("webhooks", [{}])),
        )
    with wh.connect() as reader:
        _check_delivery(result, reader, rec, p.workdir)


def _check_delivery(result: TrialResult, reader: Reader, rec: Receivers, workdir: Path) -> None:
    batches: dict[str, set[str]] = {}
    for batch_id, event_id in reader.query("SELECT batch_id, event_id FROM cdp.customer_events"):
        batches.setdefault(str(batch_id), set()).add(str(event_id))
    ids = set().union(*batches.values()) if batches else set()
    records = reader.query(
        "SELECT batch_id, webhook, delivered_at, given_up_at, last_error FROM cdp.customer_event_deliveries"
    )
    got, held = rec.requests()
    requests = [_request(g) for g in got]
    result.orders_checked += len(ids) * len(HOOKS)
    for hook in HOOKS:
        answered = {i for r in requests if r.hook == hook and 200 <= r.status < 300 for i in r.event_ids}
        lost = ids - answered
        result.versions_lost += len(lost)
        if lost:
            result.fail(f"{len(lost)} of {len(ids)} events never reached {hook} in a 2xx-answered request")
    invented = {i for r in requests for i in r.event_ids} - ids
    result.versions_doubled += len(invented)
    if invented:
        result.fail(f"{len(invented)} event ids were sent that the outbox does not hold")
    if any(r.header_id != r.batch_id or r.batch_id is None for r in requests):
        result.fail("a request's batch id header and body disagree, or its body is not a batch")
    odd = [r.batch_id for r in requests if r.batch_id in batches and set(r.event_ids) != batches[r.batch_id]]
    if odd or any(r.batch_id not in batches for r in requests):
        result.fail(f"requests carried other events than their batch holds, e.g. {odd[:2]}")
    if any(b"@" in g.body for g in got):
        result.fail("a request carried an email address (events carry customer keys only)")
    counts = Counter((r.hook, r.batch_id) for r in requests)
    for g in held:
        if counts[(g.hook, _request(g).batch_id)] < 2:
            result.fail(f"batch {_request(g).batch_id} was sent to {g.hook} when its sender was killed, never again")
    delivered = {(str(r[0]), str(r[1])) for r in records if r[2] is not None}
    missing = {(b, h) for b in batches for h in HOOKS} - delivered
    if missing:
        result.fail(f"{len(missing)} batch deliveries not recorded as delivered, e.g. {sorted(missing)[:2]}")
    if any(r[3] is not None for r in records):
        result.fail("an event batch was given up (max_attempts is 20; no webhook failed that often)")
    result.failures += url_leaks(URL_SECRET, workdir, {"cdp.customer_event_deliveries": records})
    resent = sum(n - 1 for n in counts.values() if n > 1)
    result.note(
        f"{len(ids)} events in {len(batches)} batches, {len(requests)} requests, {resent} resends, "
        f"{len(held)} held at a kill"
    )


# -- the trial -------------------------------------------------------------------------------------


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    offset = 0 if p.warehouse == DUCKDB else 1  # a short run covers both modes, one per warehouse
    mode = "step" if p.smoke else MODES[(p.index + offset) % len(MODES)]
    prepared: Prepared = p.shared.get("prepared", lambda: _prepare(p))
    if prepared.problem is not None:
        result.fail(f"setup: {prepared.problem}")
        return result
    clean: Clean = p.shared.get(f"clean:{mode}", lambda: _clean(p, prepared, mode))
    if clean.snapshot is None:
        result.fail(f"setup: {clean.problem}")
        return result
    wh = _kill_in_step(p, prepared, clean, mode, rng, result)
    if wh is None:
        return result
    with dropping(wh):
        if not _to_the_end(_cli(p.workdir, wh, prepared.key), mode, result):
            return result
        with wh.connect() as reader:
            _check_step(result, reader, clean.snapshot, mode)
        _deliver(p, wh, prepared.key, rng, result)
    return result


register(
    TrialSpec(
        name="customers-kill-9",
        fn=trial,
        title="kill -9 of the customers step and of its event delivery",
        doc=(
            "A push tenant's people (1,500 in the published run, 600 in the short one; about 4,000 and "
            "1,600 orders: platform ids, emails, CPFs, guest orders) land in two batches: the first built "
            "with customers kept, the second built without, so the step has new orders, merges, splits and "
            "late cancellations to keep; one fixed clock for every process. Each trial copies that "
            "warehouse and runs `ordersync customers recompute` (the step a build runs) or `customers "
            "recompute --full`, in turn, SIGKILLing it at a moment drawn uniformly within the span its step "
            "took in an uninterrupted run (from taking the tenant's customers lease to letting it go, the "
            "lease row's times); the warehouse then tells where the kill landed (the lease still "
            "held by the killed process and no run recorded: inside the step), and a kill that landed "
            "before or after is made again on a fresh copy, the window narrowed. The command then runs to "
            "the end. Checked: the customers' tables (identifiers, orders, profiles, RFM, CLV, journey, "
            "state, breakpoints, models, runs, events) equal those of an uninterrupted run of the same "
            "command on another copy, events by id (one missing is lost; one more, or twice, is doubled); "
            "no run left other than succeeded; the lease free. Then `ordersync notices send` delivers the "
            "event batches (initial ones too) to two local JSON webhooks answering 500 to 15% of requests, "
            "SIGKILLed at a random moment of its delivery (within half a second of its first request) and, "
            "every other kill, right after a webhook got a batch and before its answer went back (4 kills; 2 "
            "in the short run); then run until a round delivers everything. Checked: every event "
            "id reached both webhooks in a 2xx-answered request; every request carried one outbox batch's "
            "events, its id in header and body, and no email; every batch held at a kill was sent again; "
            "cdp.customer_event_deliveries records every delivery and gives none up; the URLs appear in no "
            "output, log or record. Orders checked: the orders whose customer was compared, plus each event "
            "for each webhook."
        ),
        published=6,
        short=1,
        smoke_on=(DUCKDB,),
        smoke_doc=(
            "150 people (about 400 orders), both batches in one build without customers: the step killed is "
            "the tenant's first computation (links, breakpoints, the CLV fit, about 300 events). "
            "`customers recompute` is SIGKILLed midway through the span its step took in the uninterrupted "
            "run, again on a fresh copy when the warehouse shows the kill landed outside the step; then "
            "`notices send` is killed once, right after a webhook got a batch and before its answer went back."
        ),
        options={"kills": 4, "kills_short": 2, "kills_smoke": 1},
    )
)
