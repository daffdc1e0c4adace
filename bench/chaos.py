"""The chaos suite: trials that kill, restart, freeze and starve ordersync's surroundings, then check
that no order version was lost or doubled. Writes the results table to docs/reliability.md.

    .venv/bin/python bench/chaos.py                       # the published run (about 20-30 minutes)
    .venv/bin/python bench/chaos.py --short               # the short version of every trial
    .venv/bin/python bench/chaos.py --smoke               # one quick trial of each, as in the tests
    .venv/bin/python bench/chaos.py --only kill-9 --trials 4 --warehouse postgres --no-write

Needs root (a tmpfs mount; a private PostgreSQL cluster initialised as the postgres user) and
PostgreSQL on 127.0.0.1:5432 (ORDERSYNC_TEST_PG_URL for another server).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

from chaoslib import TRIALS, report, runner  # bench/chaoslib/, beside this script
from chaoslib.model import PUBLISHED, SHORT, SMOKE, WAREHOUSES

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = ap.add_mutually_exclusive_group()
    sizes.add_argument("--short", action="store_true", help="the short version of each trial")
    sizes.add_argument(
        "--smoke", action="store_true", help="the smoke version of each trial (one trial, one fault: the tests')"
    )
    ap.add_argument("--only", action="append", metavar="NAME", help=f"run only this trial: {', '.join(TRIALS)}")
    ap.add_argument("--trials", type=int, help="trials per warehouse instead of the published count")
    ap.add_argument("--warehouse", action="append", choices=WAREHOUSES, help="only this warehouse (repeatable)")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave docs/reliability.md alone")
    ap.add_argument("--keep", type=Path, help="keep every trial's folder (logs, warehouses) under this path")
    args = ap.parse_args()

    command = "python bench/chaos.py " + shlex.join(sys.argv[1:])
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ordersync-chaos-") as tmp:
        root = args.keep or Path(tmp)
        groups = runner.run(
            args.only,
            root,
            size=SHORT if args.short else SMOKE if args.smoke else PUBLISHED,
            trials=args.trials,
            warehouses=tuple(args.warehouse) if args.warehouse else None,
            seed=args.seed,
            progress=lambda line: print(line, flush=True),
        )
    minutes = (time.perf_counter() - began) / 60
    specs = runner.select(args.only)
    text = report.render(groups, specs, command.strip(), minutes)
    if args.no_write:
        print(text)
    else:
        report.write(args.out, groups, specs, command.strip(), minutes)
        print(f"wrote {args.out}")
    for g in groups:
        r = g.result
        print(
            f"{g.spec.name:<14} {g.warehouse:<9} trials {r.trials:>3}  faults {r.faults:>4}  checked "
            f"{r.orders_checked:>6}  lost {r.versions_lost:>4}  doubled {r.versions_doubled:>4}  {g.outcome}"
        )
    return 0 if all(g.result.ok for g in groups) else 1


if __name__ == "__main__":
    sys.exit(main())
