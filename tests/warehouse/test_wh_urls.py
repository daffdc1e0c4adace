"""Which warehouse a URL names, and reading commands that never create or write a DuckDB file: a
libpq key=value string is PostgreSQL (never a file named with its password); `status` in an empty
folder says to run `ordersync init`; a file open read-only elsewhere (or not writable) is read."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import duckdb
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ordersync.config import WarehouseSettings, is_postgres_url
from ordersync.warehouse import open_warehouse
from support.cli import ordersync

#: More reading commands (each a process of its own: a few of the kinds, not all).
READING = (["gaps"], ["revenue"], ["verify"], ["notices", "list"])


@pytest.mark.parametrize(
    ("url", "postgres"),
    [
        ("postgresql://u:p@db/x", True),
        ("postgres://db/x", True),
        ("host=db dbname=x password=secret", True),
        ("  dbname = x", True),
        ("ordersync.duckdb", False),
        ("/data/wh.duckdb", False),
        ("data/a=b.duckdb", False),
        ("duckdb://host=db.duckdb", False),
        (":memory:", False),
    ],
)
def test_a_url_names_postgresql_or_a_duckdb_file(url: str, postgres: bool) -> None:
    assert is_postgres_url(url) is postgres
    assert WarehouseSettings(url=url).is_postgres is postgres


@pytest.mark.postgres
def test_a_key_value_string_opens_postgresql(pg_url: str, tmp_path: Path) -> None:
    kv = make_conninfo("", **{k: v for k, v in conninfo_to_dict(pg_url).items() if v is not None})
    assert "://" not in kv
    wh = open_warehouse(WarehouseSettings(url=kv))
    try:
        assert wh.dialect == "postgres"
        assert wh.query("SELECT count(*) FROM cdp.tenants") == [(0,)]
    finally:
        wh.close()
    added = ordersync(["-w", kv, "tenants", "add", "app", "--platform", "push"], tmp_path, clean_env=True)
    assert added.returncode == 0, added.stderr
    listed = ordersync(["-w", kv, "tenants", "list", "--json"], tmp_path, clean_env=True)
    assert [t["tenant_name"] for t in json.loads(listed.stdout)] == ["app"]
    assert list(tmp_path.iterdir()) == []  # no DuckDB file, whatever its name


def test_a_key_value_string_libpq_refuses_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    bad = "host=127.0.0.1 password=hunter2-secret nonsense=1"
    done = ordersync(["-w", bad, "status"], tmp_path, clean_env=True)
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "not a valid PostgreSQL URL or key=value connection string" in said
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["status"], ["tokens", "list"], ["revenue"], ["gaps"]])
def test_a_reading_command_in_an_empty_folder_says_to_run_init(tmp_path: Path, command: list[str]) -> None:
    done = ordersync(command, tmp_path, clean_env=True)
    assert done.returncode == 3
    said = " ".join(done.stderr.split())
    assert "there is no warehouse at ordersync.duckdb" in said and "ordersync init" in said
    assert list(tmp_path.iterdir()) == []


def test_reading_commands_read_a_file_open_read_only_elsewhere(tmp_path: Path, duckdb_template: Path) -> None:
    path = tmp_path / "ordersync.duckdb"
    shutil.copyfile(duckdb_template, path)
    assert ordersync(["tenants", "add", "app", "--platform", "push"], tmp_path, clean_env=True).returncode == 0
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # not writable (root writes anyway: the lock below)
    before = path.read_bytes()
    # a reader holds the file's shared lock: a process that opens it for writing is refused
    with duckdb.connect(str(path), read_only=True):
        for command in (["status", "--json"], ["tenants", "list", "--json"], ["tokens", "list", "--json"]):
            done = ordersync(command, tmp_path, clean_env=True)
            assert done.returncode == 0, f"{command}: {done.stderr}"
        for command in READING:  # the others answer what they find (nothing built: some say so)
            done = ordersync(command, tmp_path, clean_env=True)
            assert done.returncode in (0, 1, 3), f"{command}: {done.stderr}"
            assert "open in another process" not in done.stderr
        assert json.loads(ordersync(["status", "--json"], tmp_path, clean_env=True).stdout)[0]["tenant"] == "app"
        writing = ordersync(["tenants", "add", "other", "--platform", "push"], tmp_path, clean_env=True)
        assert writing.returncode == 5  # the lock is real: a writing command is refused
    assert path.read_bytes() == before
