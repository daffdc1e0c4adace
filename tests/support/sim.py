"""Helpers shared by the sync tests that run against the simulator."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ordersync.clock import ManualClock
from ordersync.config import Settings, load_settings
from ordersync.dates import parse_vtex_datetime
from ordersync.facade import Ordersync

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
