"""bench/bench_customers.py --quick on DuckDB: it lands a generated population, builds, times the
customers' first computation, a full recompute, a refit, a sweep and the step after a second build,
and prints its figures; the counts are the population's and the step touched the customers it should."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ordersync.customers.documents import valid_cpf
from support import processes

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = [pytest.mark.slow, pytest.mark.dbt]


def test_quick_run_prints_sane_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = processes.run(
        [
            sys.executable,
            str(BENCH / "bench_customers.py"),
            "--quick",
            "--warehouse",
            "duckdb",
            "--state",
            str(tmp_path),
            "--json",
        ],
        "bench_customers.py --quick --warehouse duckdb",
        timeout=600,
        cwd=BENCH,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_customers

    lines = done.stdout.splitlines()
    assert bench_customers.HEADER in lines
    figures: dict[str, Any] = json.loads(next(x for x in lines if x.startswith("json "))[5:])
    customers = bench_customers.QUICK_CUSTOMERS
    orders = round(customers * bench_customers.SEED_ORDERS / bench_customers.SEED_CUSTOMERS)
    # every order of a person shares an identifier with the others: one customer each
    assert (figures["customers"], figures["orders"]) == (customers, orders)
    row = next(x for x in lines if x.startswith("duckdb "))
    assert row.split()[2:4] == [f"{customers:,}", f"{orders:,}"]
    # the step re-scored exactly the customers of the new orders
    assert figures["step_customers"] == bench_customers.QUICK_STEP_CUSTOMERS
    assert figures["step_changes"] > 0
    # the full recompute right after the first computation had nothing to change
    assert figures["full_changed"] == 0
    assert figures["clv_ready"] is True
    for name in ("first_s", "full_s", "refit_s", "sweep_s", "step_s"):
        assert figures[name] > 0, name
    assert list(tmp_path.iterdir()) == []  # its warehouse, dbt state and key are gone


def test_the_population_is_drawn_exactly_and_deterministically(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_customers

    pop = bench_customers.population(1_000, 5_146)
    counts = Counter(i for day in pop.days for i in day)
    assert sum(counts.values()) == 5_146 and len(counts) == 1_000  # every customer orders at least once
    one_time = sum(1 for c in counts.values() if c == 1) / 1_000
    assert 0.15 < one_time < 0.6 and max(counts.values()) > 20  # one-time buyers and a long tail of repeat ones
    assert bench_customers.population(1_000, 5_146).days == pop.days
    assert all(valid_cpf(bench_customers.cpf(i)) for i in range(100))
