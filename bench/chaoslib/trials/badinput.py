"""At least 20 classes of bad input, through `ordersync land` and as get-order bodies served through
the simulator, plus odd tenant names, a binary file, and commands that fail on purpose with
`--debug`: each record is quarantined or refused with a reason, everything else lands, and no secret
appears in any output (the runner scans every file the trial left).

The smoke trial (the test suite's) sends every case both ways all the same; it adds a tenant with an
odd name (SQL on DuckDB, quotes on PostgreSQL), refused with a clear message; the binary file goes to DuckDB,
and three of the commands that fail near secrets run against PostgreSQL: a dead warehouse URL with a
password, and a sync of the store with a wrong token."""

from __future__ import annotations

import copy
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli, clean_error
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.secrets import APP_KEY, KEY_ENV, PG_PASSWORD, TOKEN_ENV
from chaoslib.trials.badcases import CASES, EITHER, LAND, QUARANTINE, TENANT_NAMES, Case, kinds
from chaoslib.warehouses import Reader, dropping, free_port, fresh, with_database

STORE = "shop"
FILES = "files"  # the tenant records are landed into from a file
GOOD_RECORDS = 12


@dataclass
class Sent:
    case: Case
    path: str  # "land" or "http"
    marker: str
    order_id: str  # the id it was given (file) or listed under (http)


def _marker(index: int) -> str:
    return f"chaos-case-{index:02d}-{uuid.uuid4().hex[:8]}"


def _doc(base: bytes, order_id: str, marker: str) -> dict[str, Any]:
    doc = json.loads(base)
    doc["orderId"] = order_id
    return {"chaosCase": marker, **doc}


def _fate(reader: Reader, tenant: str, sent: Sent, held: list[tuple[str | None, str, bytes]]) -> tuple[str, str]:
    """('landed' | 'quarantined' | 'both' | 'neither', the reason or what landed)."""
    tid = checks.tenant_id(reader, tenant)
    rows = reader.query(
        "SELECT order_id FROM cdp.orders_landing WHERE tenant_id = ? AND strpos(payload, ?) > 0", (tid, sent.marker)
    )
    mark = sent.marker.encode()
    reasons = [
        reason
        for order_id, reason, raw in held
        if mark in raw or ((sent.case.keeps_id or sent.path == "http") and order_id == sent.order_id)
    ]
    if rows and reasons:
        return "both", f"landed as {rows[0][0]!r} and quarantined: {reasons[0]}"
    if rows:
        return "landed", f"landed as {str(rows[0][0])[:60]!r}"
    if reasons:
        return "quarantined", reasons[0]
    return "neither", "neither landed nor quarantined"


def _verbatim(reader: Reader, tenant: str, sent: Sent) -> str | None:
    """For a LAND case: the text fields stored as sent, or what differs."""
    texts = sent.case.texts
    if texts is None:
        return None
    tid = checks.tenant_id(reader, tenant)
    row = reader.query(
        "SELECT customer_name, customer_email, customer_id, sales_channel, currency_code FROM cdp.orders_landing "
        "WHERE tenant_id = ? AND strpos(payload, ?) > 0",
        (tid, sent.marker),
    )
    if not row:
        return "not landed"
    want = (
        f"{texts['firstName']} {texts['lastName']}",
        texts["email"],
        texts["userProfileId"],
        texts["salesChannel"],
        texts["currencyCode"],
    )
    got = tuple(row[0])
    return None if got == want else f"stored {got!r}, sent {want!r}"


def _judge(result: TrialResult, sent: Sent, fate: tuple[str, str], reader: Reader, tenant: str) -> None:
    outcome, what = fate
    case = sent.case
    label = f"{sent.path} / {case.kind}: {case.name}"
    wanted = {QUARANTINE: ("quarantined",), LAND: ("landed",), EITHER: ("landed", "quarantined")}[case.expect]
    ok = outcome in wanted
    lost = False  # the order the record stood for never landed as itself
    if ok and outcome == "quarantined" and not what.strip():
        ok, what = False, "quarantined without a reason"
    if ok and case.expect == LAND:
        problem = _verbatim(reader, tenant, sent)
        if problem is not None:
            ok, what = False, problem
    if ok and outcome == "landed" and sent.path == "http":
        # a get-order body answers for the order asked for: one naming another order is not that order
        tid = checks.tenant_id(reader, tenant)
        ids = {r[0] for r in reader.query(
            "SELECT order_id FROM cdp.orders_landing WHERE tenant_id = ? AND strpos(payload, ?) > 0", (tid, sent.marker)
        )}  # fmt: skip
        if ids != {sent.order_id}:
            ok, lost, what = False, True, f"get order {sent.order_id} landed as order {sorted(ids)[0][:60]!r}"
    result.details.append(
        (f"{case.kind}: {case.name}", sent.path, f"{'ok' if ok else 'WRONG'}: {outcome}: {what[:160]}")
    )
    if not ok:
        result.fail(f"{label}: expected {case.expect}, got {outcome} ({what[:200]})")
        if lost or case.expect == LAND or outcome == "neither":
            result.versions_lost += 1


def _tenant_names(
    cli: Cli,
    result: TrialResult,
    base_url: str,
    good: Path,
    reader_of: Any,
    short: bool,
    names: tuple[str, ...] | None = None,
) -> None:
    for name in names or (TENANT_NAMES[:3] if short else TENANT_NAMES):
        added = cli.run([
            "tenants", "add", name, "--account", STORE, "--base-url", base_url,
            "--app-key-env", KEY_ENV, "--app-token-env", TOKEN_ENV,
        ])  # fmt: skip
        label = f"tenant name {name!r}"
        if not added.ok:
            problem = clean_error(added)
            if problem is not None or not added.stderr.strip():
                result.fail(f"{label}: refused without a clear message: {problem or added.brief()}")
            result.details.append(("tenant names", "cli", f"refused: {added.stderr.strip()[:160]}"))
            continue
        listed = cli.run(["tenants", "list", "--json"])
        names = [t.get("tenant_name") for t in json.loads(listed.stdout or "[]")] if listed.ok else []
        landed = cli.run(["land", "--tenant", name, str(good)])
        with reader_of() as reader:
            stored = reader.scalar("SELECT count(*) FROM cdp.tenants WHERE tenant_name = ?", (name,))
            tid = checks.tenant_id(reader, name)
            rows = reader.scalar("SELECT count(*) FROM cdp.orders_landing WHERE tenant_id = ?", (tid,))
        if name not in names or stored != 1:
            result.fail(f"{label}: accepted but not stored verbatim (listed: {name in names}, rows: {stored})")
        elif not landed.ok or rows != 3:
            result.fail(f"{label}: accepted, but landing into it failed: {landed.brief()} ({rows} rows)")
        result.details.append(("tenant names", "cli", f"accepted {name!r}: {rows} records landed"))


def _binary_file(cli: Cli, result: TrialResult, workdir: Path, rng: random.Random, tenant: str) -> None:
    path = workdir / "binary.jsonl"
    chunks = [bytes(rng.randrange(256) for _ in range(rng.randrange(10, 400))) for _ in range(40)]
    path.write_bytes(b"\n".join(chunks) + b"\x00\xff\n")
    done = cli.run(["land", "--tenant", tenant, str(path)])
    problem = clean_error(done)
    if problem is not None:
        result.fail(f"a binary file: {problem}")
    elif not done.ok and not done.stderr.strip():
        result.fail(f"a binary file: refused without a message ({done.code})")
    result.faults += 1
    verdict = done.stdout.strip().splitlines()[0] if done.ok and done.stdout.strip() else done.stderr.strip()
    result.details.append(("a binary file", "land", f"{'ok' if problem is None else 'WRONG'}: {verdict[:160]}"))


def _secret_probes(cli: Cli, workdir: Path, short: bool, store: str | None = None) -> int:
    """Commands that fail on purpose, with --debug (tracebacks on), near every secret there is.
    Their output is only scanned (by the runner): none may show a password or a credential.
    Returns how many ran. Given the base URL of a live `store` (the smoke), only three: a dead
    warehouse URL with a password, and a sync of that store with a wrong token (refused at once,
    where one of a store that does not answer is retried for seconds)."""
    dead = with_database(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", "nowhere", PG_PASSWORD)
    quick = {"ORDERSYNC__SYNC__MAX_RETRIES": "1"}
    probe = store or f"http://127.0.0.1:{free_port()}/{STORE}"
    add = [
        "tenants", "add", "probe", "--account", STORE, "--base-url", probe,
        "--app-key-env", KEY_ENV, "--app-token-env", TOKEN_ENV,
    ]  # fmt: skip
    probes: list[tuple[list[str], bool, dict[str, str]]] = [
        (["--debug", "--warehouse", dead, "status"], False, {}),
        (["--debug", "status", "--json"], True, {"ORDERSYNC__SYNC__OVERLAP_MINUTE": "5"}),
        (add, True, {}),
        (["--debug", "sync", "--tenant", "probe", "--no-build", "--json"], True, quick),
        (["--debug", "tenants", "list", "--json"], True, {}),
    ]
    if store is not None:
        wrong = {**quick, TOKEN_ENV: APP_KEY + "-wrong"}
        probes = [probes[0], probes[2], (["--debug", "sync", "--tenant", "probe", "--no-build", "--json"], True, wrong)]
    elif not short:
        probes += [
            (["--debug", "status"], False, {"ORDERSYNC__WAREHOUSE__URL": dead}),
            (["--debug", "init"], False, {"ORDERSYNC_WAREHOUSE": dead, "ORDERSYNC__SYNC__BOGUS": "1"}),
            (["--debug", "sync", "--tenant", "probe", "--no-build"], True, {**quick, TOKEN_ENV: APP_KEY + "-wrong"}),
            (["--debug", "tenants", "show", "probe"], True, {}),
            (["--debug", "status", "--json"], True, {}),
            (["--debug", "land", "--tenant", "nobody", str(workdir / "missing.jsonl")], True, {}),
        ]
    for args, own_warehouse, env in probes:
        cli.run(args, warehouse=own_warehouse, env=env)
    if store is None:
        cli.run(["tenants", "disable", "probe"])
    return len(probes)


def _sync_bad_bodies(cli: Cli, result: TrialResult, build_in_process: bool = False) -> None:
    """`ordersync sync` of the store serving the bad bodies (it goes on past them), with its build
    (or without, the build then run in the harness)."""
    synced = cli.run(["sync", "--tenant", STORE, "--json", *(["--no-build"] if build_in_process else [])])
    if not synced.ok:
        result.fail(f"sync through bad bodies: {synced.brief()}")
    elif build_error := (steps.sync_summary(synced) or {}).get("build_error"):
        result.fail(f"the build after the sync through bad bodies: {build_error}")
    if build_in_process:
        steps.build(cli, result, "the build after the bad input", in_process=True)


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    files = FILES  # the tenant records are landed into from a file
    with (
        sources.simulator(p.workdir / "source", [(STORE, 80.0)], days=2.0, seed=rng.randrange(1 << 30)) as sim,
        sources.ChaosProxy(sim.url) as proxy,
        dropping(fresh(p.warehouse, p.workdir, "badinput")) as wh,
    ):
        sources.settle(sim)
        truth = checks.truth_rows(sources.truth(sim, STORE))
        ids = sorted(truth)
        rng.shuffle(ids)
        good_ids, http_ids = ids[:GOOD_RECORDS], ids[GOOD_RECORDS:]
        bodies = {oid: sources.get_order(sim, STORE, oid) for oid in good_ids}
        template = bodies[good_ids[0]]
        cli = Cli(
            p.workdir,
            wh.url,
            f"{sim.url}/_simulator/clock",
            {
                "ORDERSYNC__SYNC__INITIAL_DAYS": "5",
                # retries are the faults trial's subject; here they only delay each bad body's quarantine
                "ORDERSYNC__SYNC__MAX_RETRIES": "3",
                "ORDERSYNC__SYNC__MAX_BACKOFF_SECONDS": "0.5",
            },
        )
        if not steps.setup_tenants(
            cli, {STORE: proxy.base_url(STORE), files: proxy.base_url(STORE)}, result, init=not p.smoke
        ):
            return result

        # 1. a file: the good records with every case between them
        sent_file: list[Sent] = []
        lines: list[bytes] = [bodies[oid] for oid in good_ids]
        for i, case in enumerate(CASES):
            marker = _marker(i)
            order_id = f"BAD-{i:02d}"
            sent_file.append(Sent(case, "land", marker, order_id))
            lines.append(case.make(_doc(template, order_id, marker)).replace(b"\n", b"\\n"))
        rng.shuffle(lines)
        records = p.workdir / "records.jsonl"
        records.write_bytes(b"\n".join(lines) + b"\n")
        landed = cli.run(["land", "--tenant", files, str(records)])
        if not landed.ok or clean_error(landed) is not None:
            result.fail(f"`ordersync land` of good and bad records: {landed.brief()}")
        result.faults += len(sent_file)

        # 2. the same cases as get-order bodies, one order each
        sent_http: list[Sent] = []
        http_cases = [c for c in CASES if c.http]
        for i, (case, order_id) in enumerate(zip(http_cases, http_ids, strict=False)):
            marker = _marker(100 + i)
            sent_http.append(Sent(case, "http", marker, order_id))

            def rewrite(body: bytes, case: Case = case, marker: str = marker) -> bytes:
                doc = json.loads(body)
                return case.make({"chaosCase": marker, **copy.deepcopy(doc)})

            proxy.bodies[order_id] = rewrite
        result.faults += len(sent_http)
        if not p.smoke:  # the smoke syncs last, its one build after
            _sync_bad_bodies(cli, result)

        # 3. odd tenant names, a binary file, commands failing near secrets
        good = p.workdir / "three.jsonl"
        good.write_bytes(b"\n".join(bodies[oid] for oid in good_ids[:3]) + b"\n")
        # the short and smoke runs split these between the warehouses: names and the binary file on
        # DuckDB, secrets near PostgreSQL's
        whole = p.pick(True, False, False)
        if p.smoke:  # one odd name, refused by the naming rule with a clear message
            odd = TENANT_NAMES[2] if p.warehouse == DUCKDB else TENANT_NAMES[0]
            _tenant_names(cli, result, proxy.base_url(STORE), good, wh.connect, p.short, names=(odd,))
            result.faults += 1
        elif whole or p.warehouse == DUCKDB:
            _tenant_names(cli, result, proxy.base_url(STORE), good, wh.connect, p.short)
            result.faults += 3 if p.short else len(TENANT_NAMES)
        if whole or p.warehouse == DUCKDB:
            _binary_file(cli, result, p.workdir, rng, files)
        if whole or p.warehouse != DUCKDB:
            result.faults += _secret_probes(cli, p.workdir, p.short, proxy.base_url(STORE) if p.smoke else None)
        if p.smoke:
            _sync_bad_bodies(cli, result, build_in_process=True)
        else:
            built = cli.run(["build"])
            if not built.ok:
                result.fail(f"`ordersync build` after the bad input: {built.brief()}")

        with wh.connect() as reader:
            named = reader.scalar("SELECT count(*) FROM cdp.tenants WHERE tenant_name = ?", (files,))
            if named != 1:
                result.fail(f"tenant {files!r}: {named} rows in cdp.tenants under its name, verbatim")
            held_file = checks.quarantine_rows(reader, files)
            for sent in sent_file:
                _judge(result, sent, _fate(reader, files, sent, held_file), reader, files)
            held_http = checks.quarantine_rows(reader, STORE)
            for sent in sent_http:
                _judge(result, sent, _fate(reader, STORE, sent, held_http), reader, STORE)
            # everything else landed and is built as the source has it
            file_truth = {oid: truth[oid] for oid in good_ids}
            odd = {s.order_id for s in sent_file}
            landed_odd = {
                r[0]
                for r in reader.query(
                    "SELECT DISTINCT order_id FROM cdp.orders_landing WHERE tenant_id = ? AND order_id NOT IN "
                    f"({', '.join('?' for _ in good_ids)})",
                    (checks.tenant_id(reader, files), *good_ids),
                )
            }
            state = checks.check_tenant(reader, files, file_truth, extra_ok=odd | landed_odd)
            special = {s.order_id for s in sent_http}
            store_truth = {k: v for k, v in truth.items() if k not in special}
            lands = {s.order_id for s in sent_http if s.case.expect == LAND}
            store_truth.update({k: truth[k] for k in lands})
            loose = {s.order_id for s in sent_http if s.case.expect != LAND}
            landed_store = checks.landed_ids(reader, STORE)
            state = state + checks.check_tenant(
                reader, STORE, store_truth, extra_ok=loose | {i for i in landed_store if i not in truth}
            )
            tables = reader.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cdp' "
                "AND table_name IN ('orders_landing', 'fct_orders', 'tenants', 'quarantine', 'sync_runs')"
            )
            if tables != 5:
                result.fail(f"a table of schema cdp is gone ({tables} of 5 left)")
        result.orders_checked += state.checked + len(sent_file) + len(sent_http)
        result.versions_lost += state.lost
        result.versions_doubled += state.doubled
        result.failures += state.problems
    result.note(f"{len(kinds())} classes of bad input, {len(CASES)} cases")
    return result


register(
    TrialSpec(
        name="bad-input",
        fn=trial,
        title="bad input, odd names, secrets",
        doc=(
            f"{len(kinds())} classes of bad input ({len(CASES)} records: {', '.join(kinds())}) go through "
            f"`ordersync land` (one file, between {GOOD_RECORDS} good records) and, where they fit a get-order "
            "body, through the simulator (a proxy serves the bad body for one order each; the sync goes on). "
            "Each record must be quarantined with a reason, or land with its text stored verbatim where that is "
            "what it is (SQL fragments, unicode), or either for the defensible cases; every good record lands and "
            "is built as the source has it, and every table of schema cdp survives. Tenant names with quotes, SQL "
            "and unicode are accepted and usable verbatim or refused with a clear message; a binary file is "
            "quarantined line by line or refused. Commands that fail on purpose with `--debug` (a dead warehouse "
            "URL with a password, a configuration typo, a store that does not answer, a wrong token) run near "
            "every secret, and the trial's whole output is scanned for the password and the store credentials."
        ),
        published=1,
        short=1,
        smoke_doc=(
            "Every case through both paths, as in the published run. The tenant the file lands into has an odd "
            "name itself (SQL on DuckDB, quotes on PostgreSQL); the binary file goes to DuckDB; on PostgreSQL "
            "two commands fail on purpose with `--debug` near secrets (a dead warehouse URL with a password, a "
            "sync with a wrong token); the sync through the bad bodies runs last, and the trial's one build "
            "follows it."
        ),
    )
)
