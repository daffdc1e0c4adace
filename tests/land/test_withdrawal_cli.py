"""`ordersync quarantine add`, `withdrawals` and `release` as a user runs them, on both warehouses:
a withdrawal recorded with who and why, listed in 80 columns (and in full with --json), released,
and clear errors for what is not there."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from factories import vtex_order_json
from ordersync.facade import Ordersync
from support.cli import ordersync
from support.sim import settings_for


def run(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    return ordersync(["--warehouse", url, *args], cwd, columns=80)


def test_withdraw_list_and_release_from_the_command_line(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        app.init()
        app.add_tenant("shop", account="shop", base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None)
        app.land_records("shop", [vtex_order_json("O-1"), vtex_order_json("O-2")])
        version = str(app.wh.scalar("SELECT payload_hash FROM cdp.orders_landing WHERE order_id = 'O-2'"))

    added = run(["quarantine", "add", "--tenant", "shop", "--order", "O-1", "--reason", "test order", "--by", "ana"],
                tmp_path, warehouse_url)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "every version of order O-1" in added.stdout and "ordersync quarantine release 1" in added.stdout
    one = run(["quarantine", "add", "-t", "shop", "--order", "O-2", "--version", version, "--reason", "bad total",
               "--json"], tmp_path, warehouse_url)  # fmt: skip
    assert one.returncode == 0, one.stderr
    second = json.loads(one.stdout)
    assert second["payload_hash"] == version and second["withdrawn_by"]  # the user running it by default

    listed = run(["quarantine", "withdrawals"], tmp_path, warehouse_url)
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80, listed.stdout
    assert "test order" in listed.stdout and "bad total" in listed.stdout

    released = run(["quarantine", "release", "1", "--reason", "a real order", "--by", "bo"], tmp_path, warehouse_url)
    assert released.returncode == 0, released.stderr
    standing = json.loads(run(["quarantine", "withdrawals", "--json"], tmp_path, warehouse_url).stdout)
    assert [w["order_id"] for w in standing] == ["O-2"]
    every = json.loads(run(["quarantine", "withdrawals", "--all", "--json"], tmp_path, warehouse_url).stdout)
    assert [(w["order_id"], w["released_by"], w["release_reason"]) for w in every] == [
        ("O-1", "bo", "a real order"),
        ("O-2", None, None),
    ]

    missing = run(["quarantine", "add", "-t", "shop", "--order", "nope", "--reason", "x"], tmp_path, warehouse_url)
    assert missing.returncode != 0 and "no landed order 'nope'" in missing.stderr, missing
    again = run(["quarantine", "release", "1", "--reason", "x"], tmp_path, warehouse_url)
    assert again.returncode != 0 and "already released" in again.stderr, again
