"""Logs on stderr as text or JSON lines (`--log-format`, `--log-level`, `[log]`): the JSON line's
keys, a sync run's tenant and run id on its lines, the layers that choose the format and level, and
no secret in any line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ordersync.cli.context import log_options
from ordersync.cli.logs import JsonFormatter, ScrubbingFilter, TextFormatter, configure_logging
from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings, load_settings
from ordersync.errors import SourceError
from ordersync.secrets import register_secret
from ordersync.sync.engine import TenantSync
from ordersync.tenants import TenantStore
from ordersync.warehouse import open_warehouse
from support.cli import ordersync

APP_TOKEN = "tok-Qx81-app-token-value"


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, put back as it was after the test (handlers and level)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _record(msg: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ordersync.sync", logging.WARNING, __file__, 1, msg, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_json_line_has_the_keys_and_the_records_context() -> None:
    line = JsonFormatter().format(_record("shop %s", "failed", tenant="shop", run_id="r-1"))
    assert "\n" not in line
    item = json.loads(line)
    assert set(item) == {"time", "level", "logger", "message", "process", "tenant", "run_id"}
    assert (item["level"], item["logger"], item["message"]) == ("warning", "ordersync.sync", "shop failed")
    assert (item["tenant"], item["run_id"], item["process"]) == ("shop", "r-1", os.getpid())
    when = datetime.fromisoformat(item["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 3600
    bare = json.loads(JsonFormatter().format(_record("plain")))
    assert "tenant" not in bare and "run_id" not in bare and "exception" not in bare


def test_no_secret_reaches_a_json_or_text_line(
    root_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret(APP_TOKEN)
    try:
        raise SourceError(f"401 for token {APP_TOKEN}")
    except SourceError as exc:
        failure = exc
    log = logging.getLogger("ordersync.test.lines")
    for fmt in ("json", "text"):
        configure_logging(fmt=fmt, level="info")
        log.info("sending %s", APP_TOKEN, extra={"tenant": f"shop {APP_TOKEN}", "run_id": "r-1"})
        log.error("request failed: %r", {"token": APP_TOKEN}, exc_info=failure)
    err = capsys.readouterr().err
    assert APP_TOKEN not in err and "Qx81" not in err, err
    json_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [i["message"] for i in json_lines] == ["sending ***", "request failed: {'token': '***'}"]
    assert json_lines[0]["tenant"] == "shop ***" and "401 for token ***" in json_lines[1]["exception"]
    assert "INFO ordersync.test.lines: sending ***" in err and "ERROR ordersync.test.lines: request failed" in err


def test_text_lines_show_control_characters_escaped() -> None:
    record = _record("order %s", "A\x1b[2Jb\u202e")
    ScrubbingFilter().filter(record)
    text = TextFormatter().format(record)
    assert text.endswith("WARNING ordersync.sync: order A\\x1b[2Jb\\u202e") and "\x1b" not in text


def test_configuring_again_replaces_the_handler(root_logging: logging.Logger) -> None:
    configure_logging(fmt="json", level="error")
    configure_logging(debug=True)
    ours = [h for h in root_logging.handlers if type(h).__name__ == "_StderrHandler"]
    assert len(ours) == 1 and isinstance(ours[0].formatter, TextFormatter)
    assert root_logging.level == logging.DEBUG
    assert all(any(isinstance(f, ScrubbingFilter) for f in h.filters) for h in root_logging.handlers)


def test_the_flags_win_over_the_settings_and_debug_means_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDERSYNC__LOG__FORMAT", raising=False)
    monkeypatch.delenv("ORDERSYNC__LOG__LEVEL", raising=False)
    assert log_options(None, None, None, False) == ("text", "warning")
    assert log_options(None, None, None, True) == ("text", "debug")
    (tmp_path / "ordersync.toml").write_text('[log]\nformat = "json"\nlevel = "error"\n')
    assert log_options(None, None, None, False) == ("json", "error")
    monkeypatch.setenv("ORDERSYNC__LOG__LEVEL", "info")
    assert log_options(None, None, None, False) == ("json", "info")
    assert log_options(None, "text", "warning", True) == ("text", "warning")  # --log-level over --debug
    assert log_options(None, None, None, True) == ("json", "debug")
    # a configuration that cannot be read: the defaults (and the flags); the command says what is wrong
    (tmp_path / "ordersync.toml").write_text('[log]\nformat = "xml"\n')
    assert log_options(None, None, None, False) == ("text", "warning")
    assert log_options(tmp_path / "missing.toml", "json", None, True) == ("json", "debug")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_sync_runs_lines_carry_its_tenant_and_run_id(
    duckdb_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, path)
    # a value of its own: a credential read is registered as a secret for the rest of the process,
    # and a common word would then be masked in every later test's output
    monkeypatch.setenv("LOGS_TEST_KEY", "logs-test-app-key-7Rw2")
    monkeypatch.setenv("LOGS_TEST_TOKEN", APP_TOKEN)
    settings = load_settings(overrides={"warehouse": {"url": str(path)}, "sync": {"max_retries": 0}})
    clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    wh = open_warehouse(WarehouseSettings(url=str(path)))
    try:
        tenant = TenantStore(wh).add(
            "shop",
            platform="vtex",
            account="shop",
            base_url=f"http://127.0.0.1:{_closed_port()}",
            app_key_env="LOGS_TEST_KEY",
            app_token_env="LOGS_TEST_TOKEN",
            now=clock.now(),
        )
        run = TenantSync(wh, tenant, settings.sync, clock, run_id="run-logs-1")
        with caplog.at_level(logging.INFO, logger="ordersync.sync"), pytest.raises(Exception, match=r"127\.0\.0\.1"):
            asyncio.run(run.run())
        status = wh.scalar("SELECT status FROM cdp.sync_runs WHERE run_id = 'run-logs-1'")
    finally:
        wh.close()
    lines = [r for r in caplog.records if r.name == "ordersync.sync"]
    assert [r.levelname for r in lines] == ["INFO", "WARNING"] and status == "failed"
    assert all((getattr(r, "tenant", None), getattr(r, "run_id", None)) == ("shop", "run-logs-1") for r in lines)
    item = json.loads(JsonFormatter().format(lines[-1]))
    assert (item["tenant"], item["run_id"]) == ("shop", "run-logs-1") and "failed" in item["message"]


def test_the_cli_writes_json_lines_without_the_token(duckdb_template: Path, tmp_path: Path) -> None:
    """The one process started here: the global flags reach the handler; an error is a JSON line too."""
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, path)
    done = ordersync(
        ["--log-format", "json", "--log-level", "info", "tenants", "show", APP_TOKEN, "--warehouse", str(path)],
        tmp_path,
        env={"ORDERSYNC_STORE_TOKEN": APP_TOKEN},
        clean_env=True,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "" and APP_TOKEN not in done.stderr
    items = [json.loads(line) for line in done.stderr.splitlines()]
    assert items and all({"time", "level", "logger", "message", "process"} <= set(i) for i in items)
    assert items[-1]["level"] == "error" and items[-1]["message"].startswith("no tenant named '***'")
