"""A command that a running serve runs for another process (the local channel) runs with its
caller's settings (environment variables, config file, credential variables), not serve's; and
`ordersync worker` sent to serve says that serve runs the worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.cli import ordersync
from support.serving import serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # serve and a few CLI processes

PRODUCTION = {"ORDERSYNC__ENVIRONMENT__NAME": "production"}
RESTATE = ["backfill", "plan", "--tenant", "app", "--days", "1", "--restate"]


def _add_tenants(folder: Path) -> None:
    assert ordersync(["tenants", "add", "app", "--platform", "push"], folder, clean_env=True).returncode == 0
    added = ordersync(
        [
            "tenants",
            "add",
            "acme",
            "--account",
            "acme",
            "--base-url",
            "http://127.0.0.1:9",
            "--app-key-env",
            "ACME_KEY",
            "--app-token-env",
            "ACME_TOKEN",
        ],
        folder,
        clean_env=True,
    )
    assert added.returncode == 0, added.stderr


def test_a_forwarded_command_runs_with_its_callers_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_tenants(tmp_path)
    for var in [v for v in os.environ if v.upper().startswith("ORDERSYNC")]:
        monkeypatch.delenv(var)  # serve runs with no setting of the shell
    monkeypatch.setenv("ACME_KEY", "serve-only-key")  # a credential only serve has
    refused = ordersync(RESTATE, tmp_path, env=PRODUCTION)
    assert refused.returncode == 15 and "in production a plan names its author" in refused.stderr
    with serving(tmp_path):
        monkeypatch.delenv("ACME_KEY")
        assert (tmp_path / "ordersync.duckdb.sock").exists()
        # an ORDERSYNC__ variable of the caller: refused as without serve, not drafted
        through = ordersync(RESTATE, tmp_path, env=PRODUCTION)
        assert (through.returncode, through.stderr) == (refused.returncode, refused.stderr)
        # the caller's config file (ordersync.toml in its folder, the warehouse given by path)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "ordersync.toml").write_text('[environment]\nname = "production"\n')
        by_file = ordersync(["-w", str(tmp_path / "ordersync.duckdb"), *RESTATE], elsewhere)
        assert by_file.returncode == 15 and "in production a plan names its author" in by_file.stderr
        # credentials are read from the caller's variables: its own are set, serve's are not seen
        shown = ordersync(["tenants", "show", "acme"], tmp_path, env={"ACME_TOKEN": "caller-secret-token"})
        assert shown.returncode == 0, shown.stderr
        assert "ACME_TOKEN (set)" in shown.stdout and "ACME_KEY (NOT set)" in shown.stdout
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert "caller-secret-token" not in log and "Traceback" not in log


def test_worker_sent_to_serve_runs_one_tick_there_or_says_serve_runs_it(tmp_path: Path) -> None:
    _add_tenants(tmp_path)
    with serving(tmp_path):
        once = ordersync(["worker", "--once", "--no-build"], tmp_path, clean_env=True)
        assert once.returncode == 0, once.stderr
        assert "serve runs the worker" in once.stdout and "ran one tick" in once.stdout
        endless = ordersync(["worker", "--no-build"], tmp_path, clean_env=True)
        assert endless.returncode == 15
        assert "runs the worker's schedule itself" in " ".join(endless.stderr.split())
        assert "signal" not in endless.stderr
