"""What the test suite's warehouse fixtures cost per test: migrating a fresh warehouse (as every test
did before) against copying one migrated once per session (a DuckDB file copy, a PostgreSQL
CREATE DATABASE ... TEMPLATE and its DROP), and a dbt build with a fresh state folder against one
whose partial parse is kept (the build's values no longer change dbt's vars), and the first build of
a new warehouse parsing the project in full against one given the run's shared parse
(tests/support/dbt_parse.py), in wall and CPU time.

    .venv/bin/python bench/bench_fixtures.py [--repeat 10] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ordersync.config import WarehouseSettings
from ordersync.transform import run_dbt
from ordersync.warehouse import open_warehouse
from ordersync.warehouse.migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' helpers
from support import dbt_parse

PG_ADMIN_URL = os.environ.get("ORDERSYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _db_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"


def migrate(url: str) -> None:
    wh = open_warehouse(WarehouseSettings(url=url))
    try:
        upgrade(wh)
    finally:
        wh.close()


def timed(repeat: int, step: Callable[[int], None]) -> dict[str, float]:
    seconds = []
    for i in range(repeat):
        began = time.perf_counter()
        step(i)
        seconds.append(time.perf_counter() - began)
    return {"median_ms": round(statistics.median(seconds) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        template = root / "template.duckdb"
        migrate(str(template))
        out["duckdb_migrate"] = timed(args.repeat, lambda i: migrate(str(root / f"fresh-{i}.duckdb")))
        out["duckdb_copy"] = timed(args.repeat, lambda i: shutil.copyfile(template, root / f"copy-{i}.duckdb"))

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
        names: list[str] = []

        def fresh_pg(_: int) -> None:
            name = f"ordersync_bench_{uuid.uuid4().hex[:10]}"
            names.append(name)
            admin.execute(f'CREATE DATABASE "{name}"')
            migrate(_db_url(name))

        def copy_pg(_: int) -> None:
            name = f"ordersync_bench_{uuid.uuid4().hex[:10]}"
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
            admin.execute(f'DROP DATABASE "{name}"')

        try:
            tpl = f"ordersync_bench_tpl_{uuid.uuid4().hex[:8]}"
            names.append(tpl)
            admin.execute(f'CREATE DATABASE "{tpl}"')
            migrate(_db_url(tpl))
            out["postgres_create_and_migrate"] = timed(args.repeat, fresh_pg)
            out["postgres_template_copy_and_drop"] = timed(args.repeat, copy_pg)
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

        # dbt: the first build of a state folder parses the whole project; later ones only what changed
        wh = open_warehouse(WarehouseSettings(url=str(root / "dbt.duckdb")))
        upgrade(wh)
        target = wh.dbt_target()
        wh.close()
        builds: list[float] = []
        for i in range(max(3, args.repeat // 2)):
            began = time.perf_counter()
            run_dbt(target, "build", state_dir=root / "dbt-state", extra_vars={"ledger_to": i})
            builds.append(time.perf_counter() - began)
        out["dbt_build_first_ms"] = round(builds[0] * 1000)
        out["dbt_build_next_median_ms"] = round(statistics.median(builds[1:]) * 1000)

        # the first build of each new warehouse (dbt already imported): a full parse, or the shared one
        dbt_parse.configure(root / "shared-parse", PG_ADMIN_URL)
        for seeded in (False, True):
            wall: list[float] = []
            cpu: list[float] = []
            for i in range(max(3, args.repeat // 2)):
                url = str(root / f"new-{seeded}-{i}" / "wh.duckdb")
                Path(url).parent.mkdir()
                migrate(url)
                wh = open_warehouse(WarehouseSettings(url=url))
                new_target = wh.dbt_target()
                wh.close()
                state = Path(url).parent / "dbt-state"
                with dbt_parse.seeding() if seeded else contextlib.nullcontext():
                    began, began_cpu = time.perf_counter(), time.process_time()
                    run_dbt(new_target, "build", state_dir=state)
                wall.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            key = "seeded" if seeded else "full_parse"
            out[f"dbt_new_warehouse_{key}"] = {
                "median_ms": round(statistics.median(wall) * 1000, 1),
                "max_ms": round(max(wall) * 1000, 1),
                "cpu_median_ms": round(statistics.median(cpu) * 1000, 1),
            }

    if args.json:
        print(json.dumps(out, indent=2))
        return
    print("| fixture step | median | max | CPU median |\n|---|---:|---:|---:|")
    for key, value in out.items():
        if isinstance(value, dict):
            cpu = f"{value['cpu_median_ms']} ms" if "cpu_median_ms" in value else ""
            print(f"| {key} | {value['median_ms']} ms | {value['max_ms']} ms | {cpu} |")
    print(f"| dbt build, first in a state folder (full parse) | {out['dbt_build_first_ms']} ms | | |")
    print(f"| dbt build, next ones (partial parse) | {out['dbt_build_next_median_ms']} ms | | |")


if __name__ == "__main__":
    main()
