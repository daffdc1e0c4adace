"""CLI tables fit an 80-column terminal: whole headers, long texts wrapped, errors below the table."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from ordersync.cli.output import SHORT_LABELS, print_table
from ordersync.simulator import AccountSpec
from ordersync.simulator.server import RunningSimulator, start_in_thread
from support.cli import ordersync
from support.properties import examples
from support.sim import KEY, TOKEN, make_config

WIDTH = 80
LONG = "an-online-store-with-a-really-long-tenant-name-for-narrow-ttys"  # 62: "offline" makes 63, the most a name holds
ERROR = (
    "HTTP 401 from the store: the app key or token was refused; check the environment variables "
    "named by --app-key-env and --app-token-env, then run again (" + "x" * 90 + ")"
)


def render(title: str, rows: Sequence[dict[str, Any]], **kwargs: Any) -> str:
    out = io.StringIO()
    print_table(title, rows, out=Console(file=out, width=WIDTH, color_system=None), **kwargs)
    return out.getvalue()


def header_lines(text: str) -> list[str]:
    """The header line of each table printed: the line above its rule."""
    lines = text.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if i and set(line.strip()) == {"─"}]


def assert_fits(text: str, labels: Sequence[str]) -> None:
    """No line wider than the terminal; each header whole, by its name or its short name (then
    spelled out in the legend)."""
    for line in text.splitlines():
        assert len(line) <= WIDTH, line
    headers = header_lines(text)
    assert headers, text
    joined = "  ".join(h.strip() for h in headers)
    shown = set(re.split(r"\s{2,}", joined)) | set(joined.split())  # columns 2 apart, or 1 (one-word headers)
    for label in labels:
        short = SHORT_LABELS.get(label, label)
        assert label in shown or (short in shown and f"{short} = {label}" in text), (label, headers)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_sync_summary_fits_with_its_error_below() -> None:
    rows = [
        {
            "tenant": LONG,
            "mode": "incremental",
            "status": "failed",
            "listed": 1234567,
            "fetched": 123456,
            "landed": 123456,
            "late": 12,
            "quarantined": 3,
            "seconds": 1234.56,
            "error": ERROR,
        },
        {
            "tenant": "petbaar",
            "mode": "historical",
            "status": "succeeded",
            "listed": 1,
            "fetched": 1,
            "landed": 1,
            "late": 0,
            "quarantined": 0,
            "seconds": 0.5,
            "error": None,
        },
    ]
    text = render("sync", rows)
    labels = ["tenant", "mode", "status", "listed", "fetched", "landed", "late", "quarantined", "seconds"]
    assert_fits(text, labels)
    assert len(header_lines(text)) == 1  # one table, not split
    assert "error" not in header_lines(text)[0]
    below = text[text.index(f"{LONG}:") :]
    assert squeeze(below).startswith(squeeze(f"{LONG}: {ERROR}"))  # the whole error, under the table
    assert "petbaar:" not in text  # no line for a row without an error
    # numbers are right-aligned: each ends where its header ends
    header = header_lines(text)[0]
    value_line = next(line for line in text.splitlines() if "1234567" in line)
    assert value_line.index("1234567") + 7 == header.index("listed") + len("listed")


def test_the_demo_summary_is_one_table() -> None:
    labels = ["tenant", "orders landed", "orders in fct_orders", "versions caught late", "seconds", "runs"]
    rows = [dict(zip(labels, [name, 9565, 9565, 163, 14.7, "ok"], strict=True)) for name in ("petbaar", "zapatosnet")]
    text = render("ordersync demo", rows)
    assert_fits(text, labels)
    assert len(header_lines(text)) == 1


def test_headers_stay_whole_when_nothing_fits_in_one_table() -> None:
    row = {f"column number {i}": i * 1000 for i in range(12)}
    text = render("wide", [{"name": LONG, **row}])
    assert_fits(text, ["name", *row])
    assert len(header_lines(text)) > 1  # split over several tables, each starting with the name
    for h in header_lines(text):
        assert h.startswith("name")


labels_st = st.from_regex(r"[a-j]{1,8}(_[a-j]{1,8}){0,2}", fullmatch=True)
cells_st = st.one_of(
    st.none(),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="abcdefghijklmnop -_/:.", max_size=70),
    st.booleans(),
)


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(labels_st, min_size=1, max_size=9, unique=True).flatmap(
        lambda labels: st.tuples(
            st.just(labels),
            st.lists(st.fixed_dictionaries({k: cells_st for k in labels}), min_size=1, max_size=4),
        )
    ),
    st.text(alphabet="abcdefghij ,;.", max_size=300),
)
def test_any_table_fits_80_columns_with_whole_headers(case: tuple[list[str], list[dict[str, Any]]], error: str) -> None:
    labels, rows = case
    rows = [{**r, "error": error} for r in rows]
    text = render("t", rows)
    assert_fits(text, [lbl.replace("_", " ") for lbl in labels])
    if error.strip():
        assert squeeze(text).count(squeeze(f": {error}")) >= len(rows)  # each row's error, whole


# --- the commands, end to end in an 80-column terminal ----------------------------------------


@pytest.fixture(scope="module")
def small_sim() -> Iterator[RunningSimulator]:
    with start_in_thread(make_config(accounts=[AccountSpec("tinystore", 15)], days=3)) as running:
        yield running


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, env=env, columns=WIDTH, clean_env=True)


@pytest.mark.slow  # eight CLI processes, about 10 s per warehouse
@pytest.mark.integration
def test_every_command_fits_80_columns(tmp_path: Path, warehouse_url: str, small_sim: RunningSimulator) -> None:
    env = {  # on top of this process's environment without its ORDERSYNC* variables
        "ORDERSYNC_WAREHOUSE": warehouse_url,
        "ORDERSYNC__CLOCK": f"{small_sim.url}/_simulator/clock",
        "ORDERSYNC__SYNC__MAX_RETRIES": "0",
        "ORDERSYNC__SYNC__INITIAL_DAYS": "3",
        "TBL_KEY": KEY,
        "TBL_TOKEN": TOKEN,
        "TBL_BAD_TOKEN": "not-the-token",
    }
    base = small_sim.base_url("tinystore")

    def add(name: str, token_env: str) -> None:
        args = ["tenants", "add", name, "--account", "tinystore", "--base-url", base, "--app-key-env", "TBL_KEY"]
        done = cli([*args, "--app-token-env", token_env, "--go-live-date", "2025-05-01"], tmp_path, env)
        assert done.returncode == 0, done.stderr

    add(LONG, "TBL_TOKEN")
    gaps = cli(["gaps", "--days", "2"], tmp_path, env)  # nothing landed yet: every day is short
    assert gaps.returncode == 0, gaps.stderr
    assert_fits(gaps.stdout, ["tenant", "day", "orders held/source", "revenue held/source", "days behind"])
    add(LONG.replace("online", "offline"), "TBL_BAD_TOKEN")

    sync = cli(["sync", "--no-build"], tmp_path, env)
    assert sync.returncode == 1, sync.stderr  # one tenant failed
    assert_fits(sync.stdout, ["tenant", "mode", "status", "listed", "fetched", "landed", "late", "quarantined"])
    failed = LONG.replace("online", "offline")
    error = squeeze(sync.stdout).split(squeeze(f"{failed}:"), 1)[1]  # the error, below the table
    assert "rejectedthecredentials(HTTP401)" in error
    assert f"{LONG}: " not in sync.stdout

    status = cli(["status"], tmp_path, env)
    assert status.returncode == 0, status.stderr
    assert_fits(status.stdout, ["tenant", "state", "last sync", "last run", "history"])
    assert_fits(status.stdout, ["today", "landed", "in fct_orders", "quarantined", "open discrepancies"])
    assert "rejectedthecredentials(HTTP401)" in squeeze(status.stdout).split(squeeze(f"{failed}: last run failed:"))[1]

    tenants = cli(["tenants", "list"], tmp_path, env)
    assert tenants.returncode == 0, tenants.stderr
    assert_fits(tenants.stdout, ["id", "tenant", "platform", "account", "enabled", "every (h)", "last sync"])

    progress = cli(["progress"], tmp_path, env)
    assert progress.returncode == 0, progress.stderr
    assert_fits(progress.stdout, ["tenant", "go live", "history until", "frontier", "done", "completed"])
    for out in (gaps.stdout, sync.stdout, status.stdout, tenants.stdout, progress.stdout):
        assert LONG[:10] in out  # the long name is shown (wrapped)
