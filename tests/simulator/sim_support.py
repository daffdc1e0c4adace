"""Helpers for the simulator tests: a fixed config and a tiny urllib client."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ordersync.dates import format_filter_datetime
from ordersync.simulator import AccountSpec, RunningSimulator, SimulatorConfig

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
