"""The push commands as a user runs them: a push store, its token shown once and kept only as a
hash, `tenants set`, `ordersync serve` answering a push from another process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ordersync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_push_store_tokens_and_settings(tmp_path: Path) -> None:
    assert run(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    refused = run(["tenants", "add", "shop"], tmp_path)
    assert refused.returncode != 0 and "needs --account and --base-url" in refused.stderr + refused.stdout
    made = run(["tokens", "create", "--tenant", "app", "--label", "sdk", "--json"], tmp_path)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    listed = run(["tokens", "list", "--json"], tmp_path)
    assert token not in listed.stdout and json.loads(listed.stdout)[0]["label"] == "sdk"
    raw = (tmp_path / "ordersync.duckdb").read_bytes()
    assert token.encode() not in raw  # only the hash is stored
    changed = run(["tenants", "set", "app", "--timezone", "Europe/Lisbon", "--frequency-hours", "2"], tmp_path)
    assert changed.returncode == 0 and "Europe/Lisbon" in changed.stdout
    bad = run(["tenants", "set", "app", "--change-capture", "feed"], tmp_path)
    assert bad.returncode != 0 and "offers no feed" in bad.stderr + bad.stdout


@pytest.mark.integration
def test_serve_takes_a_push_from_another_process(tmp_path: Path) -> None:
    assert run(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    token = json.loads(run(["tokens", "create", "--tenant", "app", "--json"], tmp_path).stdout)["token"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
        event = {
            "order_id": "A-1",
            "event_time": "2026-12-01T10:15:00Z",
            "status": "invoiced",
            "total_value": "10.00",
            "currency_code": "BRL",
            "creation_date": "2026-12-01T10:00:00Z",
        }
        r = httpx.post(f"{url}/v1/tenants/app/orders", json=[event], headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["landed"] == 1
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert server.returncode is not None
