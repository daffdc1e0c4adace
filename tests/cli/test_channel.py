"""While `ordersync serve` holds the DuckDB file, other commands run through it (the local channel)
instead of failing on the file's lock; the socket is the owner's only."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ordersync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_commands_reach_the_warehouse_through_a_running_serve(tmp_path: Path) -> None:
    assert run(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ordersync", "serve", "--port", str(port), "--no-worker"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        sock = tmp_path / "ordersync.duckdb.sock"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        made = run(["tokens", "create", "--tenant", "app", "--json"], tmp_path)
        assert made.returncode == 0, made.stderr
        token = json.loads(made.stdout)["token"]
        event = {
            "order_id": "A-1",
            "event_time": "2026-12-01T10:15:00Z",
            "status": "invoiced",
            "total_value": "10.00",
            "currency_code": "BRL",
            "creation_date": "2026-12-01T10:00:00Z",
        }
        pushed = httpx.post(f"{url}/v1/tenants/app/orders", json=[event], headers={"Authorization": f"Bearer {token}"})
        assert pushed.json()["landed"] == 1  # serve took its warehouse back after the command
        events = tmp_path / "later.ndjson"
        events.write_text(json.dumps({**event, "status": "canceled", "event_time": "2026-12-01T11:00:00Z"}) + "\n")
        ingested = run(["ingest", "--tenant", "app", str(events.name)], tmp_path)  # a relative path
        assert ingested.returncode == 0, ingested.stderr
        assert run(["build"], tmp_path).returncode == 0
        status = run(["status", "--json"], tmp_path)
        assert status.returncode == 0, status.stderr
        (row,) = json.loads(status.stdout)
        assert (row["orders_landed"], row["orders_in_fct"]) == (1, 1)
        missing = run(["tenants", "show", "nobody"], tmp_path)
        assert missing.returncode == 3 and "no tenant named" in missing.stderr
        second = run(["serve", "--port", str(free_port())], tmp_path)
        assert second.returncode != 0
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not (tmp_path / "ordersync.duckdb.sock").exists()
    assert run(["status", "--json"], tmp_path).returncode == 0  # and without serve, directly again
