"""`ordersync customers` as a user runs it, on a warehouse whose customers a build kept: the list as
a table, JSON and CSV, one customer by email with identifiers masked, the CLV model, the events,
and `forget`, which prints the key and counts and never an identifier."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from factories import push_event
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.sources.push.bodies import json_items
from support.cli import ordersync

pytestmark = [pytest.mark.dbt]

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
#: The subprocesses keep customers too (tests/conftest.py turns them off elsewhere).
ENV = {"ORDERSYNC__CUSTOMERS__ENABLED": "true"}


def _event(order_id: str, days_ago: int, value: str, **customer: str) -> bytes:
    at = (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    return orjson.dumps(push_event(order_id, creation_date=at, event_time=at, total_value=value, customer=customer))


def test_customers_commands(tmp_path: Path) -> None:
    url = str(tmp_path / "ordersync.duckdb")
    overrides = {"warehouse": {"url": url}, "customers": {"enabled": True}, "dbt": {"state_dir": str(tmp_path / "dbt")}}
    with Ordersync(load_settings(overrides=overrides), clock=ManualClock(NOW)) as app:
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        body = b"[" + b",".join([
            _event("A-1", 30, "120.00", email="ana@example.com", name="Ana"),
            _event("A-2", 3, "80.00", email="Ana@Example.com"),
            _event("B-1", 400, "40.00", email="bob@example.com"),
        ]) + b"]"  # fmt: skip
        app.push_receiver().receive(app.tenants.get("shop"), json_items(body), idempotency_key=None, request=body)
        app.build()

    listed = ordersync(["customers", "--tenant", "shop", "--json"], tmp_path, env=ENV)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["purchases"] for r in rows] == [2, 1]  # the most valuable first
    ana_key = rows[0]["customer_key"]
    table = ordersync(["customers", "--tenant", "shop", "--top", "1"], tmp_path, env=ENV)
    assert table.returncode == 0 and ana_key in table.stdout and "@" not in table.stdout
    as_csv = ordersync(["customers", "--csv", "--stage", "lapsed"], tmp_path, env=ENV)
    (bob,) = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert bob["stage"] == "lapsed" and bob["tenant"] == "shop"
    bad = ordersync(["customers", "--segment", "vips"], tmp_path, env=ENV)
    assert bad.returncode != 0 and "champions" in bad.stderr + bad.stdout

    shown = ordersync(
        ["customers", "show", "--tenant", "shop", "--email", "ANA@example.com", "--json"], tmp_path, env=ENV
    )
    found = json.loads(shown.stdout)
    assert found["customer_key"] == ana_key and [o["order_id"] for o in found["orders"]] == ["A-1", "A-2"]
    assert found["identifiers"] and "ana@example.com" not in shown.stdout  # masked
    model = ordersync(["customers", "model", "--json"], tmp_path, env=ENV)
    (fit,) = json.loads(model.stdout)
    assert fit["ready"] is False and "repeat" in fit["reason"]  # too few buyers to fit, saying why
    events = json.loads(ordersync(["customers", "events", "--json"], tmp_path, env=ENV).stdout)
    assert {e["customer_key"] for e in events} == {ana_key, bob["customer_key"]}

    # a run that fails (another identity secret than the warehouse's) fails the command
    other = {**ENV, "ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE": str(tmp_path / "another.key")}
    refused = ordersync(["customers", "recompute", "--tenant", "shop"], tmp_path, env=other)
    assert refused.returncode == 1 and "customers run failed" in refused.stderr + refused.stdout

    neither = ordersync(["customers", "forget", "--tenant", "shop", "--by", "dpo"], tmp_path, env=ENV)
    assert neither.returncode != 0 and "exactly one of" in neither.stderr + neither.stdout
    gone = ordersync(
        ["customers", "forget", "--tenant", "shop", "--email", "ana@example.com", "--by", "dpo"], tmp_path, env=ENV
    )
    assert gone.returncode == 0, gone.stderr
    assert ana_key in gone.stdout and "ana@" not in gone.stdout.lower()
    left = json.loads(ordersync(["customers", "--json"], tmp_path, env=ENV).stdout)
    assert [r["customer_key"] for r in left] == [bob["customer_key"]]
