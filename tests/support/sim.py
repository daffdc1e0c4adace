"""The simulator in tests: a fixed configuration, a tiny urllib client for its API (the simulator
tests), and what the sync tests that run against it share (settings, registered tenants, the
source's truth against fct_orders)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ordersync.clock import ManualClock
from ordersync.config import Settings, load_settings
from ordersync.dates import format_filter_datetime, parse_vtex_datetime
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import RunningSimulator

START = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # a Monday afternoon
KEY, TOKEN = "vtexappkey-test", "test-token"
AUTH = {"X-VTEX-API-AppKey": KEY, "X-VTEX-API-AppToken": TOKEN}
ORDERS = "/api/oms/pvt/orders"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    request = urllib.request.Request(url, headers=AUTH if headers is None else headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def send(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """Any method, with a JSON body when one is given."""
    data = None if body is None else json.dumps(body).encode()
    sent = dict(AUTH if headers is None else headers)
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def orders_api(sim: RunningSimulator, account: str, tail: str) -> str:
    """URL of /api/orders/{tail} (feed, feed/config, hook/config) at an account."""
    return f"{sim.base_url(account)}/api/orders/{tail}"


def list_url(sim: RunningSimulator, account: str, **params: Any) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{sim.base_url(account)}{ORDERS}?{query}" if query else f"{sim.base_url(account)}{ORDERS}"


def creation_range(lo: datetime, hi: datetime) -> str:
    return f"creationDate:[{format_filter_datetime(lo)} TO {format_filter_datetime(hi)}]"


def make_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "port": 0,
        "seed": 7,
        "accounts": [AccountSpec("store1", 600), AccountSpec("bigstore", 4000)],
        "days": 4,
        "start": START,
        "speed": 0.0,
        "app_key": KEY,
        "app_token": TOKEN,
        "rate_limit_per_minute": 0,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


# -- the sync tests against the simulator -------------------------------------------------------

KEY_ENV, TOKEN_ENV = "SIM_APP_KEY", "SIM_APP_TOKEN"


def settings_for(url: str, tmp_path: Path, **sync: Any) -> Settings:
    return load_settings(
        overrides={
            "warehouse": {"url": url},
            "dbt": {"state_dir": str(tmp_path / "dbt")},
            # the simulators in tests allow far more than VTEX's 6,000 a minute
            "sync": {"initial_days": 40, "max_backoff_seconds": 2.0, "requests_per_minute": 600_000, **sync},
        }
    )


def register(app: Ordersync, sim: Any, accounts: list[str], key: str, token: str) -> None:
    os.environ[KEY_ENV], os.environ[TOKEN_ENV] = key, token
    for name in accounts:
        app.add_tenant(name, account=name, base_url=sim.base_url(name), app_key_env=KEY_ENV, app_token_env=TOKEN_ENV)


def fct_rows(app: Ordersync, tenant: str) -> set[tuple[str, str | None, int]]:
    tid = app.tenants.get(tenant).tenant_id
    rows = app.wh.query("SELECT order_id, status, total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tid,))
    return {(r[0], r[1], int(Decimal(r[2]) * 100)) for r in rows}


def truth_rows(sim: Any, account: str, since: datetime | None = None) -> set[tuple[str, str | None, int]]:
    """The source's current orders (created at or after `since`, when given)."""
    return {
        (o["orderId"], o["status"], int(o["value"]))
        for o in sim.truth(account)
        if since is None or parse_vtex_datetime(o["creationDate"]) >= since
    }


def follow(clock: ManualClock, sim: Any) -> None:
    clock.set(sim.clock())


def configure_events(
    sim: Any, account: str, kind: str, key: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a Feed v3 (`kind` "feed") or Hook ("hook") configuration to the simulator; returns its answer.

    A hook body needs {"hook": {"url": ..., "headers": {...}}}; the simulator pings the URL first."""
    request = urllib.request.Request(
        f"{sim.base_url(account)}/api/orders/{kind}/config",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"X-VTEX-API-AppKey": key, "X-VTEX-API-AppToken": token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result
