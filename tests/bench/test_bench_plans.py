"""bench/bench_plans.py --quick on DuckDB (one tenant): it syncs, lets the store move on, drafts a
plan twice and prints the figures; the plan finds the versions the store changed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import processes

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_quick_plan_drafting_prints_its_figures(tmp_path: Path) -> None:
    done = processes.run(
        [
            sys.executable,
            str(BENCH / "bench_plans.py"),
            "--quick",
            "--shape",
            "large",
            "--warehouse",
            str(tmp_path / "wh.duckdb"),
            "--state",
            str(tmp_path / "state"),
        ],
        "bench_plans.py --quick --shape large",
        timeout=600,
        cwd=BENCH,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("large"))
    fields = line.split()
    source_orders, versions_to_land = int(fields[2].replace(",", "")), int(fields[7].replace(",", ""))
    assert source_orders > 1000 and 0 < versions_to_land < source_orders
