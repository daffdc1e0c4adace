"""bench/bench_push.py --quick on DuckDB: it pushes through a real `ordersync serve`, lands the same
rows in-process, pushes again beside a tenant sending bad bodies, and prints its figures (as JSON, and
as the tables made from them); and the feed's lag, or why it could not be measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from support import processes

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = [pytest.mark.slow, pytest.mark.integration]


def run_bench(*options: str) -> dict[str, Any]:
    done = processes.run(
        [sys.executable, str(BENCH / "bench_push.py"), "--quick", "--warehouse", "duckdb", "--json", *options],
        f"bench_push.py --quick {' '.join(options)}",
        timeout=600,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_quick_push_run_prints_its_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_bench("--no-feed")
    runs = {r["payload"]: r for r in report["runs"]}
    assert set(runs) == {"small", "vtex"}
    for run in runs.values():  # and again beside a hostile tenant, health asked throughout
        hostile, calm = run["hostile"], run["http"]
        assert hostile["hostile_load"] and not calm["hostile_load"]
        assert hostile["landed"] > 0 and hostile["failed"] == 0
        assert hostile["hostile_requests"] > 0 and hostile["hostile_quarantined"] > 0
        assert calm["health_requests"] > 0 and hostile["health_requests"] > 0
        assert calm["hostile_requests"] == 0
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
    assert report["feed_lag"] == {"available": False, "reason": "skipped (--no-feed)"}

    monkeypatch.syspath_prepend(str(BENCH))
    import bench_push

    table = bench_push.table(report["runs"])
    assert "| duckdb | small" in table and "| duckdb | vtex" in table
    assert "| duckdb | vtex |" in bench_push.hostile_table(report["runs"])


def test_quick_feed_lag_is_measured_or_said_to_be_unavailable() -> None:
    report = run_bench("--payload", "none", "--no-hostile")
    assert report["runs"] == []
    lag = report["feed_lag"]
    if not lag["available"]:
        assert lag["reason"].startswith("feed consumer not available")
        return
    # every change reached fct_orders; how fast is the benchmark's figure, not this test's
    assert lag["reached"] == lag["changes"] > 0
    assert 0 < lag["p50_s"] <= lag["max_s"]
