"""`ordersync quarantine list` and `retry` as a user runs them, on both warehouses: an 80-column
table (reasons cut there, in full with --json), records shown as plain text, retry by id."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from factories import vtex_order_json
from ordersync.facade import Ordersync
from ordersync.land import Lander
from support.cli import ordersync
from support.sim import settings_for


def run(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    return ordersync(["--warehouse", url, *args], cwd, columns=80)


def test_list_and_retry_from_the_command_line(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        app.init()
        t = app.add_tenant("shop", account="shop", base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None)
        app.land_records(
            "shop",
            [
                vtex_order_json("[/bold] not markup", value=-1),
                vtex_order_json("ab\x1b[2Jcd"),
                vtex_order_json("long-reason", creationDate="x" * 30 + " and a long tail"),
                vtex_order_json("good"),
            ],
        )
        Lander(app.wh, app.clock).quarantine(
            t.tenant_id, vtex_order_json("fine-now"), "an old reason", "file", None, "fine-now"
        )

    listed = run(["quarantine", "list"], tmp_path, warehouse_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.stdout
    header = next(line for line in lines if "tenant" in line)
    for name in ("id", "tenant", "source", "order id", "quarantined", "resolved"):
        assert name in header, header
    assert "[/bold] not markup" in listed.stdout  # shown as text, never read as markup
    assert "\x1b" not in listed.stdout and "\\x1b[2J" in listed.stdout  # a record cannot drive the terminal
    full = json.loads(run(["quarantine", "list", "--json"], tmp_path, warehouse_url).stdout)
    assert len(full) == 4
    # every reason is under the table, in full, wrapped to the terminal
    words = " ".join(listed.stdout.split())
    assert "reasons:" in listed.stdout
    assert "value -1 is negative; an order total is zero or more cents" in words
    assert "creationDate 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx and a long tail' is not an ISO-8601 date and time" in words
    fine = next(r for r in full if r["order_id"] == "fine-now")

    retried = run(["quarantine", "retry", str(fine["quarantine_id"]), "--json"], tmp_path, warehouse_url)
    assert retried.returncode == 0, retried.stderr
    outcome = json.loads(retried.stdout)
    assert (outcome["retried"], outcome["resolved"], outcome["landed"]) == (1, 1, 1)
    assert outcome["outcomes"][0]["status"] == "resolved"

    rest = run(["quarantine", "retry", "--tenant", "shop"], tmp_path, warehouse_url)
    assert rest.returncode == 0, rest.stderr
    assert "retried 3: 0 resolved (0 new versions landed), 3 still bad" in rest.stdout
    assert max(len(line) for line in rest.stdout.splitlines()) <= 80, rest.stdout

    every = run(["quarantine", "list", "--all"], tmp_path, warehouse_url)
    assert "fine-now" in every.stdout and "an old reason (resolved " in every.stdout
    assert "(retried 1x)" in every.stdout

    missing = run(["quarantine", "retry", "424242"], tmp_path, warehouse_url)
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: no quarantined record with id 424242")
