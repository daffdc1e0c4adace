"""The warehouse password and tokens never reach the terminal: errors, --json, --debug tracebacks, logs."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import typer

from ordersync.cli import context
from ordersync.cli.context import guarded
from ordersync.cli.logs import ScrubbingFilter
from ordersync.config import load_settings
from ordersync.errors import WarehouseError
from support import processes
from support.cli import ordersync

PASSWORD = "Zq7-s3cr3t@pw:%x"  # '@', ':' and '%' need encoding in a URL
# the password, its encoded form and its pieces: none of them may appear anywhere
LEAKS = (PASSWORD, quote(PASSWORD, safe=""), "Zq7-s3cr3t", "s3cr3t")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, env=env, columns=400, clean_env=True)  # one line per message: nothing wrapped apart


def assert_no_leak(done: subprocess.CompletedProcess[str]) -> None:
    for leak in LEAKS:
        assert leak not in done.stdout, (leak, done.stdout)
        assert leak not in done.stderr, (leak, done.stderr)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def missing_db_url(pg_server_url: str) -> str:
    """A URL with a password, on the test server, for a database that does not exist."""
    host = pg_server_url.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://postgres:{quote(PASSWORD, safe='')}@{host}/ordersync_missing_{uuid.uuid4().hex[:8]}"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["--debug", "status", "--json"],
        ["--debug", "init"],
        ["sync", "--json", "--no-build"],
        ["--debug", "tenants", "list", "--json"],
    ],
    ids=" ".join,
)
def test_a_failing_database_never_shows_the_password(tmp_path: Path, missing_db_url: str, args: list[str]) -> None:
    done = run(["--warehouse", missing_db_url, *args], tmp_path)
    assert done.returncode != 0
    assert "does not exist" in done.stderr  # the failure did happen, and it is explained
    assert ("Traceback" in done.stderr) == ("--debug" in args)
    assert_no_leak(done)


@pytest.mark.postgres
def test_every_way_of_giving_the_url_is_scrubbed(tmp_path: Path, missing_db_url: str) -> None:
    by_env = run(["--debug", "status"], tmp_path, ORDERSYNC_WAREHOUSE=missing_db_url)
    by_nested_env = run(["--debug", "gaps", "--json"], tmp_path, ORDERSYNC__WAREHOUSE__URL=missing_db_url)
    (tmp_path / "ordersync.toml").write_text(f'[warehouse]\nurl = "{missing_db_url}"\n')
    by_file = run(["--debug", "progress", "--json"], tmp_path)
    for done in (by_env, by_nested_env, by_file):
        assert done.returncode != 0 and "does not exist" in done.stderr, done.stderr
        assert_no_leak(done)


def test_a_server_that_refuses_never_shows_the_password(tmp_path: Path) -> None:
    url = f"postgresql://cdp:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}/cdp"
    for args in (["status"], ["--debug", "status", "--json"]):
        done = run(["--warehouse", url, *args], tmp_path)
        assert done.returncode != 0 and "refused" in done.stderr, done.stderr
        assert_no_leak(done)
    bad = run(["--warehouse", url.replace(quote(PASSWORD, safe=""), PASSWORD), "status"], tmp_path)
    assert bad.returncode == 2 and "percent-encode" in bad.stderr, bad.stderr
    assert_no_leak(bad)


def test_error_text_and_tracebacks_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever an exception says, and whatever its traceback holds, the printed text has no secret."""
    monkeypatch.setenv("ORDERSYNC_API_TOKEN", "tok-Zq7-s3cr3t-1")
    url = f"postgresql://cdp:{quote(PASSWORD, safe='')}@db.example/cdp"
    load_settings(overrides={"warehouse": {"url": url}})  # the password becomes known

    def fails_on_purpose() -> None:
        try:
            raise RuntimeError(f"driver said: bad password {PASSWORD!r} for {url}")
        except RuntimeError as inner:
            raise WarehouseError(f"cannot connect to {url} with token tok-Zq7-s3cr3t-1") from inner

    def unexpected() -> None:
        raise ValueError(f"{PASSWORD} / {quote(PASSWORD, safe='')}")

    for debug in (False, True):
        monkeypatch.setattr(context.STATE, "debug", debug)
        for fn, code in ((fails_on_purpose, WarehouseError.exit_code), (unexpected, 1)):
            with pytest.raises(typer.Exit) as stopped:
                guarded(fn)()
            assert stopped.value.exit_code == code
            out, err = capsys.readouterr()
            assert ("Traceback" in err) == debug
            assert "***" in err
            for leak in (*LEAKS, "tok-Zq7"):
                assert leak not in out + err


def test_log_records_are_scrubbed() -> None:
    url = f"postgresql://cdp:{quote(PASSWORD, safe='')}@db.example/cdp"
    load_settings(overrides={"warehouse": {"url": url}})
    record = logging.LogRecord("ordersync", logging.ERROR, __file__, 1, "connecting to %s", (url,), None)
    try:
        raise OSError(f"refused: {PASSWORD}")
    except OSError:
        record.exc_info = sys.exc_info()
    assert ScrubbingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "connecting to postgresql://cdp:***@db.example/cdp" in text and "OSError: refused: ***" in text
    for leak in LEAKS:
        assert leak not in text


def test_the_cli_logs_through_the_scrubber(tmp_path: Path) -> None:
    code = (
        "import logging, sys\n"
        "from ordersync.cli.logs import configure_logging\n"
        "configure_logging(False)\n"
        "logging.getLogger('ordersync.test').warning('token is %s', 'tok-Zq7-s3cr3t-2')\n"
    )
    done = processes.run(
        [sys.executable, "-c", code],
        "a script logging the store token",
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "ORDERSYNC_STORE_TOKEN": "tok-Zq7-s3cr3t-2"},
    )
    assert done.returncode == 0, done.stderr
    assert "token is ***" in done.stderr and "s3cr3t" not in done.stderr
