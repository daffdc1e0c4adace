"""Builds stood in for: cdp.fct_orders as a plain table, its rows written directly and stamped with
a batch's built_at, which is all a customers run reads of a build (no dbt: cheap tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

FCT = """
CREATE TABLE IF NOT EXISTS cdp.fct_orders (
    tenant_id INTEGER, order_id TEXT, creation_date TIMESTAMPTZ, order_date DATE, status TEXT,
    total_value NUMERIC(18, 2), currency_code TEXT, sales_channel TEXT, customer_id TEXT, customer_email TEXT,
    customer_document TEXT, customer_document_type TEXT, customer_phone TEXT, built_at TIMESTAMPTZ
)
"""


def standin_app(url: str, clock: ManualClock, **overrides: Any) -> Ordersync:
    """An Ordersync on `url` with the stand-in fct_orders and the tenant `shop`."""
    app = Ordersync(load_settings(overrides={"warehouse": {"url": url}, **overrides}), clock=clock)
    app.upgrade()
    app.wh.execute(FCT)
    if not app.tenants.list():
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    return app


def write_orders(app: Ordersync, batch: list[dict[str, Any]], built_at: datetime) -> None:
    """Each version of `batch` as its order's row (`withdrawn`: the row deleted), as of `built_at`."""
    tid = app.tenants.get("shop").tenant_id
    for v in batch:
        oid = f"O-{v['order']}"
        app.wh.execute("DELETE FROM cdp.fct_orders WHERE tenant_id = ? AND order_id = ?", (tid, oid))
        if v["withdrawn"]:
            continue
        created = NOW - timedelta(days=v["days_ago"], hours=v["order"])
        app.wh.execute(
            "INSERT INTO cdp.fct_orders VALUES (?, ?, ?, ?, ?, ?, ?, 'app', ?, ?, ?, 'cpf', NULL, ?)",
            (
                tid,
                oid,
                created,
                created.date(),
                v["status"],
                v["value"],
                v["currency"],
                v["customer_id"],
                v["email"],
                v["document"],
                built_at,
            ),
        )
