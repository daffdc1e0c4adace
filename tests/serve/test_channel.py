"""While `ordersync serve` holds the DuckDB file, other commands run through it (the local channel)
instead of failing on the file's lock; the socket is the owner's only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from factories import push_event
from support.cli import ordersync
from support.serving import free_port, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # serve and a dozen CLI processes


def test_commands_reach_the_warehouse_through_a_running_serve(tmp_path: Path) -> None:
    assert ordersync(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    with serving(tmp_path) as url:
        sock = tmp_path / "ordersync.duckdb.sock"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        made = ordersync(["tokens", "create", "--tenant", "app", "--json"], tmp_path)
        assert made.returncode == 0, made.stderr
        token = json.loads(made.stdout)["token"]
        pushed = httpx.post(
            f"{url}/v1/tenants/app/orders", json=[push_event("A-1")], headers={"Authorization": f"Bearer {token}"}
        )
        assert pushed.json()["landed"] == 1  # serve took its warehouse back after the command
        events = tmp_path / "later.ndjson"
        events.write_text(json.dumps(push_event("A-1", status="canceled", event_time="2026-12-01T11:00:00Z")) + "\n")
        ingested = ordersync(["ingest", "--tenant", "app", str(events.name)], tmp_path)  # a relative path
        assert ingested.returncode == 0, ingested.stderr
        assert ordersync(["build"], tmp_path).returncode == 0
        status = ordersync(["status", "--json"], tmp_path)
        assert status.returncode == 0, status.stderr
        (row,) = json.loads(status.stdout)
        assert (row["orders_landed"], row["orders_in_fct"]) == (1, 1)
        missing = ordersync(["tenants", "show", "nobody"], tmp_path)
        assert missing.returncode == 3 and "no tenant named" in missing.stderr
        second = ordersync(["serve", "--port", str(free_port())], tmp_path)
        assert second.returncode != 0
    assert not (tmp_path / "ordersync.duckdb.sock").exists()
    assert ordersync(["status", "--json"], tmp_path).returncode == 0  # and without serve, directly again
