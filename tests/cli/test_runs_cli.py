"""`ordersync runs` and `ordersync builds`, in this process on a DuckDB file: --json is a bare array
of the table's rows, the tables show what a data engineer looks for, and bad options are refused."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ordersync.cli.context import STATE
from ordersync.cli.main import app
from ordersync.cli.runs import parse_since
from ordersync.config import WarehouseSettings
from ordersync.errors import ConfigError
from ordersync.tenants import TenantStore
from ordersync.warehouse import open_warehouse

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def logged(duckdb_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A DuckDB warehouse holding two tenants' runs and two builds; the CLI's global state and the
    root logger are put back after the test."""
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, path)
    wh = open_warehouse(WarehouseSettings(url=str(path)))
    try:
        store = TenantStore(wh)
        for name in ("shop", "other"):
            store.add(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=T0)
        ids = {t.tenant_name: t.tenant_id for t in store.list()}
        for n, (run_id, tenant, status, error) in enumerate(
            [
                ("a" * 32, "shop", "succeeded", None),
                ("b" * 32, "other", "succeeded", None),
                ("c" * 32, "shop", "failed", "store said 503\n  after 8 retries"),
            ]
        ):
            started = T0 + timedelta(hours=n)
            wh.execute(
                "INSERT INTO cdp.sync_runs (run_id, tenant_id, mode, status, started_at, wall_started_at, "
                "wall_finished_at, versions_landed, error) VALUES (?, ?, 'incremental', ?, ?, ?, ?, ?, ?)",
                (run_id, ids[tenant], status, started, started, started + timedelta(seconds=12.34), 10 * n, error),
            )
        for n, status in enumerate(["succeeded", "failed"]):
            wh.execute(
                "INSERT INTO cdp.build_runs (command, flags, status, started_at, seconds, trigger, error) "
                "VALUES ('build', '{}', ?, ?, 3.5, 'worker', ?)",
                (status, T0 + timedelta(hours=n), "dbt said no" if status == "failed" else None),
            )
    finally:
        wh.close()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(STATE, "log_format", STATE.log_format)
    try:
        yield str(path)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args, env={"COLUMNS": "120"})


def test_runs_json_is_the_log_newest_first(logged: str) -> None:
    done = _invoke(["runs", "--json", "--warehouse", logged])
    assert done.exit_code == 0, done.stderr
    items = json.loads(done.stdout)
    assert [(r["run_id"][0], r["tenant"]) for r in items] == [("c", "shop"), ("b", "other"), ("a", "shop")]
    assert items[0]["started_at"] == (T0 + timedelta(hours=2)).isoformat() and "orders_listed" in items[0]

    some = json.loads(
        _invoke(["runs", "--json", "-w", logged, "--tenant", "shop", "--since", "2026-01-01T12:30"]).stdout
    )
    assert [r["run_id"][0] for r in some] == ["c"]
    assert [r["run_id"][0] for r in json.loads(_invoke(["runs", "--json", "-w", logged, "--limit", "2"]).stdout)] == [
        "c",
        "b",
    ]


def test_runs_tables_show_the_runs_their_counts_and_errors_on_one_line(logged: str) -> None:
    done = CliRunner().invoke(app, ["runs", "--warehouse", logged], env={"COLUMNS": "80"})
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), done.stdout
    headers = [line.split() for line in lines if line.startswith("run ")]
    assert headers == [
        ["run", "tenant", "mode", "status", "started", "seconds"],
        ["run", "listed", "fetched", "landed", "late", "quarantined", "discrepancies"],
    ]
    run, counts = [line.split() for line in lines if line.startswith("c" * 8 + " ")]
    assert run == ["c" * 8, "shop", "incremental", "failed", "2026-01-01", "14:00", "12.3"]
    assert counts == ["c" * 8, "0", "0", "20", "0", "0"]  # no discrepancies counted: an empty cell
    assert f"{'c' * 8}: store said 503 after 8 retries" in lines


def test_builds_json_and_table(logged: str) -> None:
    items = json.loads(_invoke(["builds", "--json", "--warehouse", logged]).stdout)
    assert [b["status"] for b in items] == ["failed", "succeeded"]
    assert items[0]["started_at"] == (T0 + timedelta(hours=1)).isoformat() and items[0]["failed_tenants"] == []
    table = _invoke(["builds", "--warehouse", logged])
    assert table.exit_code == 0, table.stderr
    assert "2026-01-01 13:00" in table.stdout and "worker" in table.stdout
    assert f"{items[0]['build_id']}: dbt said no" in table.stdout


def test_bad_options_are_refused_naming_them(logged: str) -> None:
    done = _invoke(["runs", "--since", "last tuesday", "--warehouse", logged])
    assert done.exit_code == 2 and "--since 'last tuesday' is not an ISO date" in done.stderr
    assert _invoke(["runs", "--limit", "1001", "--warehouse", logged]).exit_code == 2
    missing = _invoke(["runs", "--tenant", "nobody", "--warehouse", logged])
    assert missing.exit_code == 3 and "no tenant named 'nobody'" in missing.stderr
    # with JSON logs an error is one JSON line on stderr, like every other
    as_json = _invoke(["--log-format", "json", "runs", "--tenant", "nobody", "--warehouse", logged])
    assert as_json.exit_code == 3
    item = json.loads(as_json.stderr)
    assert (item["level"], item["logger"]) == ("error", "ordersync.cli") and "nobody" in item["message"]


def test_since_is_an_iso_date_or_date_time() -> None:
    assert parse_since(None) is None
    assert parse_since("2026-01-02") == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_since("2026-01-02T03:04") == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert parse_since("2026-01-02T03:04:05-03:00") == datetime(2026, 1, 2, 6, 4, 5, tzinfo=UTC)
    assert parse_since("2026-01-02T03:04Z") == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--since '02/01/2026'"):
        parse_since("02/01/2026")
