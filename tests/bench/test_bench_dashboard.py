"""bench/bench_dashboard.py at a tiny scale on DuckDB: it makes the fleet, builds, computes
customers, serves, and asks every page and list endpoint once beside the SDK's pushes; every answer
is a 200 and the figures are printed. No timing is asserted (--keep and --reuse,
which measure a kept warehouse again, are left to the full runs: a second serve here costs the
suite 15 s)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from support import processes

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = [pytest.mark.slow, pytest.mark.dbt]


def tiny(tmp_path: Path, *more: str) -> list[str]:
    return [
        sys.executable,
        str(BENCH / "bench_dashboard.py"),
        "--warehouse",
        "duckdb",
        "--tenants",
        "4",
        "--versions",
        "1500",
        "--customers",
        "60",
        "--duration",
        "0",
        "--min-rounds",
        "1",
        "--repeat",
        "1",
        "--push-every",
        "0.1",
        "--state",
        str(tmp_path),
        "--json",
        *more,
    ]


def measured(command: list[str]) -> dict[str, Any]:
    """The run's figures, once every endpoint answered 200 and has its row printed."""
    done = processes.run(command, "bench_dashboard.py at a tiny scale", timeout=600, cwd=BENCH)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    out: dict[str, Any] = json.loads(next(x for x in lines if x.startswith("json "))[5:])
    assert isinstance(out["status_command_s"], float) and isinstance(out["status_in_process_s"], float)
    kinds = {e["kind"] for e in out["endpoints"]}
    assert kinds == {"page", "list", "asof", "quiet"}
    for e in out["endpoints"]:
        assert e["statuses"] == {"200": e["n"]} and e["n"] >= 1, e
        assert any(line.split()[1:2] == [e["path"][:72]] for line in lines), e["path"]  # its row is printed
    assert out["push"]["requests"] >= 1 and out["push"]["failed"] == 0
    return out


def test_a_tiny_run_answers_every_endpoint_and_leaves_nothing(tmp_path: Path) -> None:
    out = measured(tiny(tmp_path))
    assert out["generated"]["tenants"] == 4 and out["generated"]["versions"] >= 1500
    assert list(tmp_path.iterdir()) == []  # its warehouse, dbt state and key are gone
