"""The smoke version of every registered chaos trial (one trial, a single fault, the smallest store that
still reaches the fault's moment), on each warehouse it supports: nothing lost, nothing doubled, no
secret in any output, and every check of the trial met. The published trials are bench/chaos.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest

from chaoslib import TRIALS, checks, customer_tables
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, POSTGRES, SMOKE, TrialResult
from chaoslib.runner import run_group
from chaoslib.serving import KillRelay
from chaoslib.trials import push as push_trial
from chaoslib.warehouses import WarehouseHandle, free_port
from ordersync.simulator.sdk import SdkConfig, generate
from support.processes import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

CASES = [
    pytest.param(
        name, warehouse, id=f"{name}-{warehouse}", marks=[pytest.mark.postgres] if warehouse == POSTGRES else []
    )
    for name, spec in TRIALS.items()
    for warehouse in spec.warehouses
    if spec.runs_smoke_on(warehouse)
]


@pytest.mark.parametrize(("name", "warehouse"), CASES)
def test_smoke_trial(name: str, warehouse: str, tmp_path: Path) -> None:
    spec = TRIALS[name]
    result = run_group(spec, warehouse, spec.count(SMOKE), tmp_path, size=SMOKE)
    assert result.trials == 1
    assert result.faults > 0, "the trial injected no fault"
    assert result.orders_checked > 0, "the trial checked no order"
    assert result.failures == [], "\n".join(result.failures)
    assert (result.versions_lost, result.versions_doubled) == (0, 0)


# -- the parts the push, hook and feed trials stand on -------------------------------------------


class _Upstream:
    """A child process answering every request 200 (a server the relay may kill)."""

    def __init__(self, tmp: Path) -> None:
        self.log = tmp / "upstream.log"
        self.port = free_port()
        code = (
            "import http.server, sys\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_POST(self):\n"
            "        self.rfile.read(int(self.headers['Content-Length'] or 0))\n"
            "        open(sys.argv[2], 'a').write(self.path + '\\n')\n"
            "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
            "        self.wfile.write(b'ok')\n"
            "    def log_message(self, *a): pass\n"
            "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(self.port), str(self.log)])
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_for(lambda: self.proc.poll() is not None or self._accepts(), "the upstream to accept connections", 30)
            assert self.proc.poll() is None, f"the upstream exited {self.proc.returncode} before accepting connections"
        except BaseException:
            self.kill()
            raise

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def kill(self) -> bool:
        if self.proc.poll() is not None:
            return False
        self.proc.kill()
        self.proc.wait()  # a SIGKILLed process always ends
        return True

    def seen(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


def _post(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=scaled(30)) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize(("pass_answer", "before"), [(False, False), (True, False), (False, True)])
def test_the_relay_kills_its_upstream_at_the_moment_asked(tmp_path: Path, pass_answer: bool, before: bool) -> None:
    upstream = _Upstream(tmp_path)
    try:
        with KillRelay(upstream.url, upstream.kill) as relay:
            assert _post(f"{relay.url}/other") == 200  # passed through while disarmed
            fired = relay.arm(lambda method, path: path == "/armed", pass_answer=pass_answer, before=before)
            status = _post(f"{relay.url}/armed")
            assert fired.wait(scaled(30)) and upstream.proc.poll() is not None  # killed
            assert status == (200 if pass_answer else 502)
            assert ("/armed" in upstream.seen()) == (not before)  # before: the request never reached it
            assert _post(f"{relay.url}/after") == 502  # the upstream is down: the relay says so
    finally:
        upstream.kill()


def test_the_push_check_counts_events_lost_and_doubled(tmp_path: Path) -> None:
    stream = generate(SdkConfig(orders_per_day=5, days=1, seed=3, start=push_trial.START))
    distinct = {(e.order_id, e.event_time, e.status) for e in stream.events}
    events = sorted(distinct)
    path = tmp_path / "wh.duckdb"
    duck = duckdb.connect(str(path))
    duck.execute("CREATE SCHEMA cdp")
    duck.execute("CREATE TABLE cdp.tenants (tenant_id INTEGER, tenant_name TEXT)")
    duck.execute("CREATE TABLE cdp.orders_landing (tenant_id INTEGER, order_id TEXT, event_time TIMESTAMPTZ, "
                 "status TEXT, payload_hash TEXT)")  # fmt: skip
    duck.execute("CREATE TABLE cdp.fct_orders (tenant_id INTEGER, order_id TEXT, status TEXT, "
                 "total_value NUMERIC(18, 2), event_time TIMESTAMPTZ)")  # fmt: skip
    duck.execute("CREATE TABLE cdp.quarantine (tenant_id INTEGER, order_id TEXT, reason TEXT, raw TEXT)")
    duck.execute("INSERT INTO cdp.tenants VALUES (1, ?)", [push_trial.TENANT])
    kept = events[1:] + events[-1:]  # the first event lost, the last landed twice
    for i, (oid, at, status) in enumerate(kept):
        duck.execute("INSERT INTO cdp.orders_landing VALUES (1, ?, ?, ?, ?)", [oid, at, status, f"h{i}"])
    for oid, o in stream.truth.items():
        duck.execute(
            "INSERT INTO cdp.fct_orders VALUES (1, ?, ?, ?, ?)",
            [oid, o["status"], o["total_value"], checks.parse_time(o["event_time"])],
        )
    duck.close()
    result = TrialResult()
    push_trial._check(result, WarehouseHandle(DUCKDB, str(path), "t", path=path).connect, stream, None)
    assert (result.versions_lost, result.versions_doubled) == (1, 1), result.failures
    assert any("never landed" in f for f in result.failures) and any("more than once" in f for f in result.failures)


def _customer_tables(path: Path, events: list[tuple[str, str]], profiles: list[tuple[str, float]]) -> WarehouseHandle:
    """A DuckDB file with every table the customers check reads: events (id, batch) and profiles
    (key, value) as given, the others empty."""
    duck = duckdb.connect(str(path))
    duck.execute("CREATE SCHEMA cdp")
    for table in customer_tables.TABLES:
        if table == "customer_events":
            duck.execute("CREATE TABLE cdp.customer_events (event_id TEXT, customer_key TEXT, batch_id TEXT)")
        else:
            duck.execute(f"CREATE TABLE cdp.{table} (customer_key TEXT, value DOUBLE, run_id TEXT)")
    for event_id, batch_id in events:
        duck.execute("INSERT INTO cdp.customer_events VALUES (?, 'cus_1', ?)", [event_id, batch_id])
    for key, value in profiles:
        duck.execute("INSERT INTO cdp.customer_profiles VALUES (?, ?, 'drawn at random')", [key, value])
    duck.close()
    return WarehouseHandle(DUCKDB, str(path), path.name, path=path)


def test_the_customers_check_counts_rows_and_events_lost_and_doubled(tmp_path: Path) -> None:
    clean = _customer_tables(tmp_path / "clean.duckdb", [("e1", "b1"), ("e2", "b1")], [("k1", 0.1), ("k2", 2.0)])
    # e1 lost, e2 in another batch (no difference), e3 written twice; k1 off in the 15th digit (no
    # difference), k2 different: one row lost, one doubled
    got = _customer_tables(
        tmp_path / "got.duckdb", [("e2", "b9"), ("e3", "b9"), ("e3", "b9")], [("k1", 0.1 + 1e-15), ("k2", 2.5)]
    )
    with clean.connect() as one, got.connect() as two:
        same = customer_tables.compare(customer_tables.snapshot(one), customer_tables.snapshot(one))
        diff = customer_tables.compare(customer_tables.snapshot(one), customer_tables.snapshot(two))
    assert (same.lost, same.doubled, same.problems) == (0, 0, [])
    assert (diff.lost, diff.doubled) == (2, 3), diff.problems
    assert any("e1" in m and "never written" in m for m in diff.problems)
    assert any("more than once" in m for m in diff.problems) and any("did not write" in m for m in diff.problems)
    assert any(m.startswith("cdp.customer_profiles: 1 rows") for m in diff.problems)
