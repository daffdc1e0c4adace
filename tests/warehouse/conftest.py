"""Helpers for the warehouse tests: landing rows and a second connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ordersync.warehouse import LANDING_COLUMNS

RowFactory = Callable[..., tuple[object, ...]]


def landing_row(order_id: str, phash: str, tenant_id: int = 1, source: str = "test") -> tuple[object, ...]:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    values = {
        "tenant_id": tenant_id,
        "order_id": order_id,
        "event_time": now,
        "event_ingested_at": now,
        "order_date": date(2024, 1, 1),
        "creation_date": now,
        "status": "invoiced",
        "total_value": Decimal("10.50"),
        "currency_code": "BRL",
        "sales_channel": "1",
        "customer_id": "c",
        "customer_email": "e@x",
        "customer_name": "n",
        "payload": "{}",
        "payload_hash": phash,
        "source": source,
        "run_id": None,
    }
    return tuple(values.get(c) for c in LANDING_COLUMNS)


@pytest.fixture
def make_row() -> RowFactory:
    """landing_row(order_id, payload_hash, tenant_id=1, source="test"): one cdp.orders_landing row."""
    return landing_row
