"""docs/reliability.md: what each trial does, the results table, the findings, and how to reproduce."""

from __future__ import annotations

import os
import platform
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from chaoslib.model import TrialSpec
from chaoslib.runner import GroupResult
from chaoslib.sections import BAD_DATA

_HEAD = """# Reliability: the chaos suite

ordersync promises that orders converge whatever goes wrong around it. `bench/chaos.py` tries to break
that promise: it drives ordersync as a user does (its CLI in child processes, so `kill -9` really
kills, following the simulator's clock through `ORDERSYNC__CLOCK`, credentials in environment
variables) against the built-in VTEX simulator and real warehouses (a DuckDB file, a fresh
PostgreSQL database per trial), injects one kind of fault per trial, lets ordersync finish, and
compares the end state with the simulator's truth using plain SQL:

- every order the source holds (in the synced range) is in `fct_orders` with the source's current
  status, value and lastChange; an order missing or built from an older version is a **version lost**;
- no `(tenant, order_id, payload_hash)` is stored twice in `cdp.orders_landing` and `fct_orders` has one
  row per order; each extra copy is a **version doubled**;
- `ordersync build` (dbt's tests included) passes;
- no store credential and no warehouse password appears in any output, log or dbt file a trial left.

The trials are `bench/chaoslib/`. The test suite runs the smoke version of each (`pytest -m chaos
tests/chaos`): one trial on each warehouse the trial supports, with a single fault (one kill, one
restart, one freeze, one disk filled) timed by what the harness sees rather than by the clock, the
smallest store that still reaches the moment the fault is aimed at, and no `ordersync init` (the first
`tenants add` creates the schema, as every command that writes does); the builds that only prepare a
trial or check its end state run in the harness's process (`Ordersync.build`, what `ordersync build`
calls, without a process to start and dbt to import each time). `bench/chaos.py --smoke`
runs the same from the command line, `--short` a short version of every trial (fewer trials,
smaller stores), `--only NAME` and `--trials N` select. A new write path adds its trial with one
`register(TrialSpec(...))` in `bench/chaoslib/trials/`: its published and short counts, and what its
smoke trial does (`TrialParams.pick(published, short, smoke)` picks a size's values).
"""

# What the trials found while ordersync was being hardened, kept after the fixes so the record stays.
_FOUND = """## Found by the suite so far

- **bad-input, through the simulator (both warehouses):** a get-order body holding 50,000 nested arrays
  made `ordersync sync` end with `unexpected error: RecursionError` (msgspec's decoder, raised through
  `extract/transport.py` `get_json`, which caught only `ValueError`): the whole run failed, its other
  ~100 orders were not landed, and the tenant was stuck on every run. `ordersync land` already
  quarantined the same record. Fixed in bbcd1b9 (nested too deeply is a malformed body).
- **faults-30 (both warehouses):** a permanently truncated order whose last retry happened to get a
  5xx was raised as a transient HTTP failure, not a malformed body: the run failed instead of
  quarantining it and going on (with 3 poison orders per store at 30% faults, about half the runs),
  so convergence took 2-3 syncs. Reproduced with `bench/chaos.py --only faults-30 --trials 3`. Fixed
  in bbcd1b9 (a body broken on every attempt is poison even with 5xx in between).
- **bad-input, through the simulator:** a get-order body with `orderId` twice landed under the second
  id (`<id>-dup`), an order the source does not hold, while the order asked for was never landed.
  Fixed in 18a7741 (a body answering for another order is quarantined); the trial now fails on any
  get-order body landing under another order id.
- **bad bodies through the push API** (`tests/web/test_bad_bodies.py`, both warehouses): one JSON
  array element the decoder refuses (nested past 1,024 levels, `1e400`, bytes that are not UTF-8, a
  raw NUL) made the whole batch a 400; the SDK drops a batch answered 4xx, so its good events were
  lost. An element nested 256-1,024 levels deep answered 500 (retried for ever). Fixed in 7cf33f6
  (the array is split, that element quarantined alone, as sent). In the same commit: an order event
  in an array (or a CSV or Parquet row) was not held to the 4 MB payload limit an NDJSON line is.
- **bad bodies through ingest:** an order event line with a number out of range was quarantined as
  "orderId is missing" (the VTEX parser's words). Fixed in f1a60c5.
- **bad bodies through the Hook receiver, PostgreSQL:** one notification whose OrderId or State held
  an escaped NUL (`\\u0000`) made every drain of serve's spool fail: every later notification, of
  every tenant, was answered 200 and then never landed. And a notification whose order the store
  answered 404 for waited unseen in cdp.hook_inbox after its 20 attempts. Fixed in 0ea9b5c (such an
  OrderId is unreadable and quarantined at once; a notification is quarantined after its last try).
- **customers-kill-9, DuckDB:** before any kill, the customers step ran out of DuckDB's memory (the
  48 MB default `duckdb_memory_limit`) for a tenant of 150 people and 400 orders: its whole-history
  query (`customers/history.py` `facts`) inside the step's transaction failed in 13 of 31 runs, each
  in a fresh process (8 of 10 in one sitting). The step after `ordersync build` failed the same way
  (logged, left for the next build), and so did `ordersync customers recompute`, which still exited
  0. Fixed in 273e757 (a run holds at least 256 MB of DuckDB memory while its transaction is open, as
  as-of queries do): 10 of 10 then, and every trial since.
"""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# The bounds validation keeps (src/ordersync/land/records.py, src/ordersync/text.py), stated here.
_BOUNDS = """## Bounds: what a single record may hold

Validation bounds one order, so that no value that lands can break a build: the rules are in one
place each and hold for pushed events and VTEX bodies alike.

- **One order's total** is at most 12 integer digits: 999,999,999,999.99 (VTEX's `value`: at most
  99,999,999,999,999 cents, a whole number of them). `MAX_CENTS` in `src/ordersync/land/records.py`
  is the one bound; `total_value` is NUMERIC(18, 2), and a day's sum of a tenant's orders needs 12
  integer digits plus the digits of the day's order count: with the models' sums in DECIMAL(38, 2)
  that leaves room for 10^24 orders at the bound on one day (at NUMERIC(18, 2), 10,000).
- **Exact money.** A `total_value` sent as a JSON number is read as a decimal from its text, never
  through a float (`1234567890123456.78` would become `...456.8`, and the sent value would be kept
  nowhere); more than two decimal places, or more than 12 integer digits, is quarantined with the
  reason, never rounded or clipped.
- **Currency codes** have ISO 4217's form (three ASCII letters, stored upper case: one code, one
  revenue row); anything else is quarantined.
- **Order ids** with control, zero-width (U+200B-U+200D, U+2060, U+FEFF) or bidi characters
  (U+200E/F, U+061C, U+202A-U+202E, U+2066-U+2069) are quarantined, naming the character.
- **Shown text** (statuses, tenant names, labels, reasons) is printed with those characters escaped and
  never read as markup; CSV cells that a spreadsheet would run get a leading quote (OWASP); new tenant
  names are lowercase letters, digits, `-` and `_` (1-63 characters), token labels at most 100
  characters (`src/ordersync/text.py`).

The bad-input trial sends each of these (a currency code that is SQL, a formula or a symbol; order ids
with a right-to-left override or a zero-width space; odd tenant names) and checks each is refused or
quarantined with its reason while everything else lands.
"""


def render(groups: list[GroupResult], specs: list[TrialSpec], command: str, minutes: float) -> str:
    lines = [_HEAD, _FOUND, _BOUNDS, BAD_DATA, "## Results", ""]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(
        f"Produced by `{command}` on {when} ({os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}), in {minutes:.1f} minutes."
    )
    lines += [
        "",
        "| trial | warehouse | trials run | faults injected | orders checked | versions lost | versions doubled "
        "| outcome |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for g in groups:
        r = g.result
        lines.append(
            f"| {g.spec.name} | {g.warehouse} | {r.trials} | {r.faults} | {r.orders_checked} | {r.versions_lost} "
            f"| {r.versions_doubled} | {g.outcome} |"
        )
    failing = [g for g in groups if not g.result.ok]
    lines += ["", "## Findings", ""]
    if not failing:
        lines.append("Every trial passed.")
    for g in failing:
        lines.append(f"### {g.spec.name} on {g.warehouse}")
        lines.append("")
        counts = Counter(g.result.failures)
        for message, n in counts.most_common(12):
            lines.append(f"- {_cell(message)}" + (f" ({n} trials)" if n > 1 else ""))
        if len(counts) > 12:
            lines.append(f"- ... and {len(counts) - 12} other distinct failures")
        lines += [
            "",
            f"Reproduce: `.venv/bin/python bench/chaos.py --only {g.spec.name} --warehouse {g.warehouse} "
            f"--trials 1 --no-write --keep /tmp/chaos` (each trial's logs and warehouse stay there).",
            "",
        ]
    notes = [g for g in groups if g.result.notes]
    if notes:
        lines += ["", "## Notes", ""]
        for g in notes:
            counts = Counter(_generalise(n) for n in g.result.notes)
            first: dict[str, str] = {}
            for note in g.result.notes:
                first.setdefault(_generalise(note), note)
            shown = "; ".join(
                first[kind] + (f" (and {n - 1} more like it)" if n > 1 else "") for kind, n in counts.most_common(8)
            )
            lines.append(f"- **{g.spec.name} / {g.warehouse}**: {_cell(shown)}")
    for g in groups:
        if not g.result.details:
            continue
        lines += ["", f"### Details: {g.spec.title} ({g.warehouse})", ""]
        lines += ["| input | path | outcome |", "|---|---|---|"]
        for case, path, outcome in g.result.details:
            lines.append(f"| {_cell(case)} | {path} | {_cell(outcome)} |")
    lines += ["", "## The trials", ""]
    for spec in specs:
        where = ", ".join(spec.warehouses)
        each = " per warehouse" if len(spec.warehouses) > 1 else ""
        short_on = spec.short_on or spec.warehouses
        short = f"{spec.short}" + (f" ({', '.join(short_on)})" if short_on != spec.warehouses else each)
        lines += [
            f"### {spec.name}: {spec.title}",
            "",
            f"{spec.doc}",
            "",
            f"Warehouses: {where}. Published run: {spec.published}{each}; short run: {short}.",
            "",
        ]
        if spec.smoke_doc:
            smoke_on = ", ".join(spec.smoke_on or spec.warehouses)
            lines += [f"Smoke trial (the test suite, `--smoke`; {smoke_on}): {spec.smoke_doc}", ""]
    lines += [
        "## Reproducing",
        "",
        "```bash",
        ".venv/bin/python bench/chaos.py                 # the published run; writes this file",
        ".venv/bin/python bench/chaos.py --short         # one or two trials of each",
        ".venv/bin/python bench/chaos.py --smoke         # one quick trial of each, a single fault",
        ".venv/bin/python bench/chaos.py --only kill-9 --trials 5 --warehouse duckdb",
        ".venv/bin/pytest -q -m chaos tests/chaos        # the smoke trials as tests",
        "```",
        "",
        "The run needs root (a tmpfs mount, a private PostgreSQL cluster initialised as the `postgres` user) "
        "and PostgreSQL on 127.0.0.1:5432 (`ORDERSYNC_TEST_PG_URL` to use another server).",
        "",
    ]
    return "\n".join(lines)


def _generalise(note: str) -> str:
    """Notes differ by their numbers; count them by their words."""
    return re.sub(r"\d+(\.\d+)?", "N", note)


def write(path: Path, groups: list[GroupResult], specs: list[TrialSpec], command: str, minutes: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(groups, specs, command, minutes))
