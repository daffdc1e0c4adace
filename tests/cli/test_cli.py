"""The command line as a user runs it: the demo (the README's main job), errors, tenants."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ordersync.demo import YEAR_STORE
from support.cli import environment, ordersync
from support.processes import spawned, wait_for
from support.serving import free_port


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, env=env, columns=None)  # COLUMNS only where a test sets it


@pytest.mark.integration
@pytest.mark.dbt
@pytest.mark.slow  # the whole demo
def test_demo_syncs_builds_and_prints_a_table_per_tenant(tmp_path: Path) -> None:
    # customers kept after the build, as in the product (the suite turns them off elsewhere); an
    # 80-column terminal: every line fits, the customers table in one piece; then it serves its
    # warehouse (--serve) with an admin token that reads the API, and commands run through that serve
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    env = environment({"ORDERSYNC__CUSTOMERS__ENABLED": "true"}, columns=80)
    cmd = [sys.executable, "-m", "ordersync", "demo", "--days", "3", "--serve", "--port", str(free_port())]
    with spawned(cmd, out, err, cwd=tmp_path, env=env) as demo:
        wait_for(lambda: demo.poll() is not None or "\nost_" in out.read_text(), "the demo to serve", timeout=600)
        assert demo.poll() is None, err.read_text()
        stdout = out.read_text()
        url = re.search(r"dashboard: (http://\S+)/ ", stdout)
        token = re.search(r"^(ost_\S+)$", stdout, re.M)
        assert url and token, stdout
        tenants = httpx.get(f"{url[1]}/v1/tenants", headers={"Authorization": f"Bearer {token[1]}"}, timeout=60)
        assert tenants.status_code == 200, tenants.text
        assert {t["tenant"] for t in tenants.json()["data"]} >= {"petbaar", YEAR_STORE}
        served_status = run(["status", "--json"], tmp_path)  # forwarded to the serve the demo runs
    done = subprocess.CompletedProcess(cmd, 0, stdout, err.read_text())
    for store in ("petbaar", "sevensport", "zapatosnet", YEAR_STORE, "mobileapp (push)"):
        assert store in done.stdout
    assert "fct_orders equals the app's own truth for" in " ".join(done.stdout.split())
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    customers = customers_table(done.stdout)
    assert customers.keys() == {"petbaar", "sevensport", "zapatosnet", YEAR_STORE}
    assert all(int(row["customers"]) > 0 for row in customers.values()), customers
    # the year store's history is a year whatever --days says: its CLV model is fitted
    year = customers[YEAR_STORE]
    assert year["CLV"] == "fitted" and int(year["repeat"]) >= 100 and float(year["top CLV 12m"]) > 0, year
    assert customers["zapatosnet"]["CLV"] == "not yet" and customers["zapatosnet"]["top CLV 12m"] == ""
    assert "zapatosnet: CLV not fitted: needs 180 days of history" in done.stdout
    assert f"try `ordersync customers --tenant {YEAR_STORE} --segment champions`" in done.stdout
    assert "@" not in done.stdout  # keys only: no email
    assert (tmp_path / "ordersync.duckdb").exists()
    status = run(["status", "--json"], tmp_path)
    assert status.returncode == 0, status.stderr
    assert served_status.returncode == 0, served_status.stderr
    landed = {r["tenant"]: r["orders_landed"] for r in json.loads(served_status.stdout)}
    assert landed == {r["tenant"]: r["orders_landed"] for r in json.loads(status.stdout)}
    rows = json.loads(status.stdout)
    assert {r["tenant"] for r in rows} == {"petbaar", "sevensport", "zapatosnet", YEAR_STORE, "mobileapp"}
    assert all(r["orders_landed"] > 0 and r["orders_in_fct"] == r["orders_landed"] for r in rows)
    # the demo's world ends at the real present: on the real clock its stores are current, and synced in
    # the past, never the future
    stores = [r for r in rows if r["tenant"] != "mobileapp"]
    assert {r["state"] for r in stores} == {"Current"}, stores
    assert all(datetime.fromisoformat(r["last_sync_at"]) <= datetime.now(UTC) for r in stores), stores


def customers_table(stdout: str) -> dict[str, dict[str, str]]:
    """The demo's customers table by tenant: its one header line (columns two spaces apart or more)
    and the rows under its rule, up to the first line that is not a row."""
    lines = stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("tenant") and "champions" in line]
    assert len(headers) == 1, stdout  # one table, not split over several
    names = re.split(r"\s{2,}", lines[headers[0]].strip())
    assert names == ["tenant", "customers", "repeat", "champions", "at risk", "lost", "CLV", "top CLV 12m"]
    found: dict[str, dict[str, str]] = {}
    for line in lines[headers[0] + 2 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) not in (len(names) - 1, len(names)):
            break
        found[cells[0]] = dict(zip(names, [*cells, ""][: len(names)], strict=True))
    return found


def test_errors_are_one_line_with_a_non_zero_exit(tmp_path: Path) -> None:
    assert run(["init"], tmp_path).returncode == 0
    done = run(["tenants", "show", "nobody"], tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip().startswith("error: no tenant named 'nobody'")
    assert "Traceback" not in done.stderr
    bad = run(
        [
            "tenants",
            "add",
            "x",
            "--account",
            "a",
            "--base-url",
            "http://x",
            "--app-key-env",
            "secret value!",
            "--app-token-env",
            "T",
        ],
        tmp_path,
    )
    assert bad.returncode == 2 and "NAME of an environment variable" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_tenants_are_managed_and_secrets_never_printed(tmp_path: Path) -> None:
    env = {"SHOP_KEY": "k-123-very-secret", "SHOP_TOKEN": "t-456-very-secret"}
    added = run(
        [
            "tenants",
            "add",
            "shop",
            "--account",
            "shop",
            "--base-url",
            "https://shop.example",
            "--app-key-env",
            "SHOP_KEY",
            "--app-token-env",
            "SHOP_TOKEN",
            "--go-live-date",
            "2025-01-01",
        ],
        tmp_path,
        **env,
    )
    assert added.returncode == 0, added.stderr
    assert run(["tenants", "disable", "shop"], tmp_path).returncode == 0
    shown = run(["tenants", "show", "shop"], tmp_path, COLUMNS="200", **env)
    assert "SHOP_KEY (set)" in shown.stdout and "False" in shown.stdout
    listed = run(["tenants", "list", "--json"], tmp_path, **env)
    for out in (added.stdout, shown.stdout, listed.stdout, added.stderr, shown.stderr):
        assert "very-secret" not in out


def test_a_configuration_typo_stops_the_command_with_the_nearest_key(tmp_path: Path) -> None:
    done = run(["status"], tmp_path, ORDERSYNC__SYNC__OVERLAP_MINUTE="5", COLUMNS="200")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: unknown setting ORDERSYNC__SYNC__OVERLAP_MINUTE: did you mean ORDERSYNC__SYNC__OVERLAP_MINUTES?"
    )
    (tmp_path / "ordersync.toml").write_text("[dbt]\nlookback_day = 2\n")
    done = run(["status"], tmp_path, COLUMNS="200")
    assert done.returncode == 2
    assert "unknown setting dbt.lookback_day in ordersync.toml: did you mean dbt.lookback_days?" in done.stderr


def test_error_text_is_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    assert run(["init"], tmp_path).returncode == 0
    done = run(["tenants", "show", "[red]x[/red]"], tmp_path, COLUMNS="200")
    assert done.returncode == 3
    assert "no tenant named '[red]x[/red]'" in done.stderr
