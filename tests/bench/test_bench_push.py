"""bench/bench_push.py --quick on DuckDB: it pushes through a real `ordersync serve`, lands the same
rows in-process, and prints its figures (as JSON, and as the table made from them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
@pytest.mark.integration
def test_quick_run_prints_its_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_push.py"), "--quick", "--warehouse", "duckdb", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    runs = {r["payload"]: r for r in report["runs"]}
    assert set(runs) == {"small", "vtex"}
    for run in runs.values():
        assert run["warehouse"] == "duckdb"
        http, local = run["http"], run["in_process"]
        assert http["landed"] > 0 and http["failed"] == 0 and http["quarantined"] == 0
        assert local["landed"] == http["landed"]  # the same rows, both ways
        assert http["events_per_s"] > 0 and local["events_per_s"] > 0
        assert 0 < http["p50_ms"] <= http["p99_ms"]
        assert http["server_peak_rss_mb"] >= http["server_idle_rss_mb"] > 0
        assert run["ratio"] == pytest.approx(http["events_per_s"] / local["events_per_s"])
    assert runs["vtex"]["item_bytes"] > 5_000
    assert "available" in report["feed_lag"]

    monkeypatch.syspath_prepend(str(BENCH))
    import bench_push

    table = bench_push.table(report["runs"])
    assert "| duckdb | small" in table and "| duckdb | vtex" in table
