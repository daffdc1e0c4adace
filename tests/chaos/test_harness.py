"""The harness's own parts, so a trial that passes means something: the end-state checker counts
exactly the versions lost and doubled it is shown (hypothesis, on both warehouses), the secret scan
finds every form of a secret, the fault proxy injects what it is told, and a kill really kills."""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaoslib import checks, secrets, sources
from chaoslib.commands import Cli
from chaoslib.model import DUCKDB, POSTGRES
from chaoslib.warehouses import WarehouseHandle
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread

pytestmark = pytest.mark.chaos

T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
SCHEMA = [
    "DROP SCHEMA IF EXISTS cdp CASCADE",
    "CREATE SCHEMA cdp",
    "CREATE TABLE cdp.tenants (tenant_id INTEGER, tenant_name TEXT)",
    "CREATE TABLE cdp.fct_orders (tenant_id INTEGER, order_id TEXT, status TEXT, total_value NUMERIC(18, 2), "
    "event_time TIMESTAMPTZ)",
    "CREATE TABLE cdp.orders_landing (tenant_id INTEGER, order_id TEXT, payload_hash TEXT, payload TEXT)",
]


def _write(url: str, statements: list[str], rows: dict[str, list[tuple[Any, ...]]]) -> None:
    inserts = {
        "tenants": "INSERT INTO cdp.tenants VALUES (?, ?)",
        "fct_orders": "INSERT INTO cdp.fct_orders VALUES (?, ?, ?, ?, ?)",
        "orders_landing": "INSERT INTO cdp.orders_landing VALUES (?, ?, ?, ?)",
    }
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in statements:
                pg.execute(statement)
            for table, values in rows.items():
                if values:
                    pg.cursor().executemany(inserts[table].replace("?", "%s"), values)
        return
    duck = duckdb.connect(url)
    try:
        for statement in statements:
            duck.execute(statement)
        for table, values in rows.items():
            if values:
                duck.executemany(inserts[table], values)
    finally:
        duck.close()


def _handle(url: str) -> WarehouseHandle:
    if url.startswith("postgresql://"):
        return WarehouseHandle(POSTGRES, url, "test")
    return WarehouseHandle(DUCKDB, url, "test", path=Path(url))


damage = st.fixed_dictionaries(
    {
        "n": st.integers(1, 30),
        "missing": st.integers(0, 5),
        "stale": st.integers(0, 5),
        "landing_copies": st.integers(0, 4),
        "fct_copies": st.integers(0, 3),
        "extra": st.integers(0, 2),
    }
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=damage)
def test_the_checker_counts_exactly_what_was_lost_and_doubled(warehouse_url: str, d: dict[str, int]) -> None:
    n = d["n"]
    missing = min(d["missing"], n)
    stale = min(d["stale"], n - missing)
    truth: dict[str, checks.Row] = {
        f"o{i}": ("invoiced", 1000 + i, T0 + timedelta(seconds=i, microseconds=123456)) for i in range(n)
    }
    fct: list[tuple[Any, ...]] = []
    landing: list[tuple[Any, ...]] = []
    for i, (oid, (status, cents, changed)) in enumerate(truth.items()):
        if i < missing:
            continue
        if i < missing + stale:  # built from an older version: an earlier lastChange and status
            status, changed = "payment-pending", changed - timedelta(hours=1)
        fct.append((1, oid, status, Decimal(cents) / 100, changed))
        landing.append((1, oid, f"h{i}", "{}"))
    fct += [fct[j % len(fct)] for j in range(d["fct_copies"])] if fct else []
    landing += [landing[j % len(landing)] for j in range(d["landing_copies"])] if landing else []
    fct += [(1, f"extra{j}", "invoiced", Decimal(1), T0) for j in range(d["extra"])]
    fct += [(2, "o0", "canceled", Decimal(5), T0)]  # another tenant's order of the same id: not counted
    _write(
        warehouse_url, SCHEMA, {"tenants": [(1, "shop"), (2, "other")], "fct_orders": fct, "orders_landing": landing}
    )

    with _handle(warehouse_url).connect() as reader:
        state = checks.check_tenant(reader, "shop", truth)
    built = n - missing
    assert state.checked == n
    assert state.lost == missing + stale
    assert state.doubled == (d["fct_copies"] if built else 0) + (d["landing_copies"] if built else 0)
    assert any("does not hold" in p for p in state.problems) == (d["extra"] > 0)
    assert (state.problems == []) == (state.lost == 0 and state.doubled == 0 and d["extra"] == 0)


def test_truth_times_compare_at_the_millisecond() -> None:
    assert checks.parse_time("2025-06-01T12:00:00.1234567+00:00") == datetime(2025, 6, 1, 12, 0, 0, 123000, UTC)
    assert checks.parse_time("2025-06-01T09:00:00.5-03:00") == datetime(2025, 6, 1, 12, 0, 0, 500000, UTC)
    assert checks.parse_time("2025-06-01T12:00:00Z") == T0
    with pytest.raises(ValueError):
        checks.parse_time("yesterday")


def test_the_secret_scan_finds_every_form_and_skips_only_private_profiles(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "clean.out").write_text("nothing here\n")
    (tmp_path / "logs" / "raw.err").write_text(f"error: token {secrets.APP_TOKEN}\n")
    quoted = "postgresql://postgres:" + secrets.PG_PASSWORD.replace("-", "%2D") + "@h/db"
    (tmp_path / "logs" / "encoded.out").write_text(quoted)
    (tmp_path / "wh.duckdb").write_text(secrets.APP_KEY)  # the warehouse's data: not output
    private = tmp_path / "dbt" / "profiles.yml"
    private.parent.mkdir()
    private.write_text(secrets.PG_PASSWORD)
    private.chmod(0o600)
    found = secrets.scan(tmp_path)
    assert found == ["logs/raw.err: holds a store credential"]
    # only the URL-encoded form of the password with every character quoted is a different string:
    assert "%2D" not in secrets.PG_PASSWORD
    (tmp_path / "logs" / "encoded.out").write_text("postgresql://postgres:" + secrets.PG_PASSWORD + "@h/db")
    private.chmod(0o644)
    found = secrets.scan(tmp_path)
    assert "logs/encoded.out: holds the warehouse password" in found
    assert "dbt/profiles.yml: the dbt profile is readable by others" in found
    assert secrets.mask(f"x {secrets.APP_KEY} y") == "x *** y"


def _get(url: str) -> tuple[int, bytes, str | None]:
    request = urllib.request.Request(
        url, headers={"X-VTEX-API-AppKey": secrets.APP_KEY, "X-VTEX-API-AppToken": secrets.APP_TOKEN}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Retry-After")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Retry-After")


@pytest.mark.integration
def test_the_proxy_keeps_a_poison_order_broken_and_answers_429_in_bursts() -> None:
    config = SimulatorConfig(
        port=0, seed=3, days=1, speed=0.0, start=T0, rate_limit_per_minute=0,
        accounts=[AccountSpec("shop", 50)], app_key=secrets.APP_KEY, app_token=secrets.APP_TOKEN,
    )  # fmt: skip
    with start_in_thread(config) as sim, sources.ChaosProxy(sim.url) as proxy:
        ids = [o["orderId"] for o in sim.truth("shop")][:2]
        poison, fine = ids
        proxy.bodies[poison] = lambda body: body[:10]
        base = proxy.base_url("shop") + "/api/oms/pvt/orders/"
        for _ in range(3):
            status, body, _ = _get(base + poison)
            assert status == 200 and len(body) == 10
        status, body, _ = _get(base + fine)
        assert status == 200 and body == sources.get_order(sim, "shop", fine)
        assert proxy.injected["rewritten body"] == 3
        proxy.burst_every, proxy.burst_seconds = 1000.0, 1000.0  # one long burst from now on
        status, _, retry_after = _get(base + fine)
        assert (status, retry_after) == (429, "1")
        assert proxy.injected["429 burst"] == 1
        clock = urllib.request.urlopen(f"{proxy.url}/_simulator/clock", timeout=30).read()
        assert b"now" in clock  # control routes pass through untouched


def test_a_kill_really_kills(tmp_path: Path) -> None:
    cli = Cli(tmp_path, str(tmp_path / "wh.duckdb"), None)
    done = cli.killed_at(["simulator", "serve", "--port", "0", "--accounts", "1", "--days", "1"], after=1.5)
    assert done.killed and done.code == -signal.SIGKILL
    assert not os.path.exists(tmp_path / "wh.duckdb")
    helped = cli.run(["--help"], warehouse=False)
    assert helped.ok and "Usage" in helped.stdout
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "001-simulator.err", "001-simulator.out", "002-cmd.err", "002-cmd.out",
    ]  # fmt: skip


def test_the_report_has_a_row_per_group_and_says_what_failed() -> None:
    from chaoslib import TRIALS, report
    from chaoslib.model import TrialResult
    from chaoslib.runner import GroupResult

    spec = TRIALS["kill-9"]
    good = TrialResult(trials=3, faults=3, orders_checked=1800, notes=["build: killed during the build"] * 3)
    bad = TrialResult(trials=2, faults=2, orders_checked=1200, versions_lost=4, failures=["shop: 4 orders missing"] * 2)
    text = report.render([GroupResult(spec, DUCKDB, good), GroupResult(spec, POSTGRES, bad)], [spec], "cmd", 1.5)
    assert "| kill-9 | duckdb | 3 | 3 | 1800 | 0 | 0 | pass |" in text
    assert "| kill-9 | postgres | 2 | 2 | 1200 | 4 | 0 | FAIL |" in text
    assert "- shop: 4 orders missing (2 trials)" in text
    assert "--only kill-9 --warehouse postgres" in text
    assert "build: killed during the build (and 2 more like it)" in text
    assert spec.doc in text
