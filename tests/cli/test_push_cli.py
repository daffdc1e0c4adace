"""The push commands as a user runs them: a push store, its token shown once and kept only as a
hash, `tenants set`, `ordersync serve` answering a push from another process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from factories import push_event
from support.cli import ordersync
from support.serving import serving


def test_push_store_tokens_and_settings(tmp_path: Path) -> None:
    assert ordersync(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    refused = ordersync(["tenants", "add", "shop"], tmp_path)
    assert refused.returncode != 0 and "needs --account and --base-url" in refused.stderr + refused.stdout
    made = ordersync(["tokens", "create", "--tenant", "app", "--label", "sdk", "--json"], tmp_path)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    listed = ordersync(["tokens", "list", "--json"], tmp_path)
    assert token not in listed.stdout and json.loads(listed.stdout)[0]["label"] == "sdk"
    raw = (tmp_path / "ordersync.duckdb").read_bytes()
    assert token.encode() not in raw  # only the hash is stored
    changed = ordersync(["tenants", "set", "app", "--timezone", "Europe/Lisbon", "--frequency-hours", "2"], tmp_path)
    assert changed.returncode == 0 and "Europe/Lisbon" in changed.stdout
    bad = ordersync(["tenants", "set", "app", "--change-capture", "feed"], tmp_path)
    assert bad.returncode != 0 and "offers no feed" in bad.stderr + bad.stdout
    country = ordersync(["tenants", "set", "app", "--country", "ar"], tmp_path)
    assert country.returncode == 0 and "country AR" in country.stdout
    wrong = ordersync(["tenants", "set", "app", "--country", "Brazil"], tmp_path)
    assert wrong.returncode != 0 and "two letters" in wrong.stderr + wrong.stdout


def test_a_token_gets_its_own_budget_and_gives_it_back(tmp_path: Path) -> None:
    assert ordersync(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    args = ["tokens", "create", "--tenant", "app", "--max-items-per-minute", "500000", "--json"]
    token_id = json.loads(ordersync(args, tmp_path).stdout)["token_id"]
    assert json.loads(ordersync(["tokens", "list", "--json"], tmp_path).stdout)[0]["max_items_per_minute"] == 500_000
    lowered = ordersync(["tokens", "budget", token_id, "--max-items-per-minute", "1000"], tmp_path)
    assert lowered.returncode == 0 and "1,000 items a minute" in lowered.stdout
    back = ordersync(["tokens", "budget", token_id, "--server-default"], tmp_path)
    assert back.returncode == 0 and "the server's budget" in back.stdout
    assert json.loads(ordersync(["tokens", "list", "--json"], tmp_path).stdout)[0]["max_items_per_minute"] is None
    neither = ordersync(["tokens", "budget", token_id], tmp_path)
    assert neither.returncode != 0 and "--server-default" in neither.stderr + neither.stdout
    zero = ordersync(["tokens", "budget", token_id, "--max-items-per-minute", "0"], tmp_path)
    assert zero.returncode != 0 and "must be 1 to" in zero.stderr + zero.stdout


@pytest.mark.integration
@pytest.mark.slow  # serve and CLI processes
def test_serve_takes_a_push_from_another_process(tmp_path: Path) -> None:
    assert ordersync(["tenants", "add", "app", "--platform", "push"], tmp_path).returncode == 0
    token = json.loads(ordersync(["tokens", "create", "--tenant", "app", "--json"], tmp_path).stdout)["token"]
    with serving(tmp_path) as url:
        r = httpx.post(
            f"{url}/v1/tenants/app/orders", json=[push_event()], headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200 and r.json()["landed"] == 1
