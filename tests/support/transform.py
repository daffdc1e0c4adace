"""Helpers for the dbt model tests: landing rows, the version order in Python, and a warehouse
that lands, builds and reads.

dbt runs in this process against the same database file or server the test uses; on DuckDB the
test's own connection is closed for the length of each build (one configuration per file).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ordersync.config import WarehouseSettings
from ordersync.transform import DbtCommand, DbtResult, run_dbt
from ordersync.warehouse import LANDING_COLUMNS, Warehouse, open_warehouse
from ordersync.warehouse.migrate import upgrade

#: cdp.fct_orders' columns, in the model's order.
FCT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "order_id",
    "event_time",
    "event_ingested_at",
    "order_date",
    "creation_date",
    "status",
    "total_value",
    "currency_code",
    "sales_channel",
    "customer_id",
    "customer_email",
    "customer_name",
    "payload_hash",
    "landing_id",
    "customer_document",
    "customer_document_type",
    "customer_phone",
    "order_key",
)
_FROM_LANDING = FCT_COLUMNS[:-1]


def landing_row(
    tenant_id: int,
    order_id: str,
    event_time: datetime,
    event_ingested_at: datetime | None,
    payload_hash: str,
    *,
    status: str | None = None,
    total_value: Decimal | int = 100,
    order_date: date | None = None,
) -> tuple[Any, ...]:
    """One landing row (LANDING_COLUMNS order); the other fields derive from the version so that
    a wrong pick shows up in every column."""
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "order_id": order_id,
        "event_time": event_time,
        "event_ingested_at": event_ingested_at,
        "order_date": order_date or event_time.date(),
        "creation_date": event_time - timedelta(days=1),
        "status": status or f"status-{payload_hash}",
        "total_value": Decimal(total_value),
        "currency_code": "BRL",
        "sales_channel": "1",
        "customer_id": f"c-{order_id}",
        "customer_email": f"{order_id}@example.com",
        "customer_name": f"Customer {payload_hash}",
        "customer_document": f"doc-{payload_hash}",
        "customer_document_type": "cpf",
        "customer_phone": f"+55 {payload_hash}",
        "payload": f'{{"orderId": "{order_id}", "hash": "{payload_hash}"}}',
        "payload_hash": payload_hash,
        "source": "test",
        "run_id": None,
    }
    return tuple(values[c] for c in LANDING_COLUMNS)


def version_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The version order the models implement, in Python: event_time, then processing time (a null
    event_ingested_at means on time), then payload_hash in code-point (= UTF-8 byte) order."""
    processed = row["event_ingested_at"] or row["event_time"]
    return (row["event_time"], processed, row["payload_hash"], row["landing_id"])


@dataclass
class DbtWarehouse:
    """A migrated warehouse plus what a model test needs: land, build, read fct_orders."""

    url: str
    state_dir: Path
    wh: Warehouse
    builds: list[DbtResult] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.wh.dialect

    def land(self, rows: Sequence[tuple[Any, ...]]) -> int:
        with self.wh.transaction():
            return self.wh.insert_landing(rows)

    def build(
        self,
        command: DbtCommand = "build",
        *,
        lookback_days: float = 3.0,
        full_refresh: bool = False,
        select: str | None = None,
    ) -> DbtResult:
        target = self.wh.dbt_target()
        # DuckDB allows one open configuration per file: dbt gets the file for the build.
        reopen = self.wh.dialect == "duckdb"
        if reopen:
            self.wh.close()
        try:
            result = run_dbt(
                target,
                command,
                state_dir=self.state_dir,
                lookback_days=lookback_days,
                full_refresh=full_refresh,
                select=select,
            )
        finally:
            if reopen:
                self.wh = open_warehouse(WarehouseSettings(url=self.url))
        self.builds.append(result)
        return result

    def fct(self, tenants: Iterable[int] | None = None) -> set[tuple[Any, ...]]:
        """cdp.fct_orders as a set of rows (FCT_COLUMNS), optionally for some tenants only."""
        sql = f"SELECT {', '.join(FCT_COLUMNS)} FROM cdp.fct_orders"
        return set(self.wh.query(sql + _tenant_filter(tenants)))

    def expected_fct(self, tenants: Iterable[int] | None = None) -> set[tuple[Any, ...]]:
        """fct_orders computed in Python: per order, the newest version among everything landed."""
        rows = self.wh.query_dicts(
            f"SELECT {', '.join(_FROM_LANDING)} FROM cdp.orders_landing" + _tenant_filter(tenants)
        )
        latest: dict[tuple[int, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["tenant_id"], row["order_id"])
            if key not in latest or version_key(row) > version_key(latest[key]):
                latest[key] = row
        return {(*(r[c] for c in _FROM_LANDING), f"{r['tenant_id']}:{r['order_id']}") for r in latest.values()}

    def close(self) -> None:
        self.wh.close()


def _tenant_filter(tenants: Iterable[int] | None) -> str:
    if tenants is None:
        return ""
    ids = sorted({int(t) for t in tenants})
    return f" WHERE tenant_id IN ({', '.join(map(str, ids))})" if ids else " WHERE FALSE"


def open_dbt_warehouse(url: str, state_dir: Path) -> DbtWarehouse:
    wh = open_warehouse(WarehouseSettings(url=url))
    upgrade(wh)
    return DbtWarehouse(url=url, state_dir=state_dir, wh=wh)
