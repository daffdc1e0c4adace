"""bench/bench_revisions.py --quick on DuckDB: it generates the ledger's batches, answers every as-of
question (revenue as of two moments, for two years and one month, and two diffs), builds twice at
two sizes, and prints its figures as JSON and as tables; `--only` runs one part."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from support import processes

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = [pytest.mark.slow, pytest.mark.dbt]


def run_bench(tmp_path: Path, *options: str) -> dict[str, Any]:
    done = processes.run(
        [sys.executable, str(BENCH / "bench_revisions.py"), "--quick", "--warehouse", "duckdb", "--json", *options],
        f"bench_revisions.py --quick {' '.join(options)}",
        timeout=600,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["machine"]["cpus"] >= 1
    assert list(tmp_path.iterdir()) == []  # its DuckDB files and dbt state are gone
    return report


def test_quick_run_answers_as_of_and_times_the_incremental_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_bench(tmp_path, "--tmp", str(tmp_path))
    (asof,) = report["asof"]
    assert asof["warehouse"] == "duckdb" and asof["versions"] >= 20_000
    queries = {q["query"].split(" (")[0] if "month" in q["query"] else q["query"]: q for q in asof["queries"]}
    whole, month = queries["two years, as of now"], queries["one month"]
    assert whole["days"] >= 729  # two years of order dates
    assert 28 <= month["days"] <= 31
    assert Decimal(queries["two years, as of the middle"]["revenue"]) > 0
    assert queries["two years, as of the middle"]["days"] < whole["days"]  # the later half was not known yet
    assert queries["diff: the middle to now"]["orders"] > queries["diff: the last week"]["orders"] > 0
    assert all(q["seconds"] > 0 for q in asof["queries"])

    (build,) = report["build"]
    small, large = build["sizes"]
    assert small["versions"] < large["versions"]
    for size in (small, large):
        assert 0 < size["last_build_fct_rows"] <= 50  # the orders of the change's 50 new versions
        assert size["median"]["revenue_daily_s"] > 0 and size["median"]["build_s"] >= size["median"]["dbt_s"] > 0
    assert large["orders_per_recomputed_day"] > small["orders_per_recomputed_day"]
    ratio = large["median"]["revenue_daily_s"] / small["median"]["revenue_daily_s"]
    assert build["ratio"]["revenue_daily_s"] == pytest.approx(ratio)

    monkeypatch.syspath_prepend(str(BENCH))
    import bench_revisions

    assert "| duckdb | 20,0" in bench_revisions.asof_table(report["asof"])
    assert "| duckdb | ratio |" in bench_revisions.build_table(report["build"])


def test_only_selects_a_part(tmp_path: Path) -> None:
    report = run_bench(tmp_path, "--tmp", str(tmp_path), "--only", "asof")
    assert "asof" in report and "build" not in report
