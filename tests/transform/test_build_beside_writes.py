"""DuckDB: a build runs beside the process's other connections to the file (as `ordersync serve`'s
builder does beside its pushes): dbt joins the process's database instance instead of needing the
file to itself, a landing transaction left open across the build commits afterwards and is built
next time, and the instance's memory limit is back to the configured one after the build."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.warehouse.duckdb import duckdb_size
from support.revisions import event, new_push_tenant, push

pytestmark = pytest.mark.dbt

AT = datetime(2024, 6, 10, 7, tzinfo=UTC)


@pytest.fixture
def two_facades(tmp_path: Path) -> Iterator[tuple[Ordersync, Ordersync]]:
    settings = load_settings(
        overrides={
            "warehouse": {"url": str(tmp_path / "w.duckdb")},
            "dbt": {"state_dir": str(tmp_path / "dbt")},
        }
    )
    clock = ManualClock(datetime(2024, 6, 10, 12, tzinfo=UTC))
    with Ordersync(settings, clock=clock) as writer, Ordersync(settings, clock=clock) as builder:
        writer.init()
        yield writer, builder


def built(app: Ordersync, tenant_id: int) -> dict[str, Decimal]:
    rows = app.wh.query("SELECT order_id, total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tenant_id,))
    return {str(r[0]): Decimal(r[1]) for r in rows}


def memory_limit(app: Ordersync) -> int:
    size = duckdb_size(str(app.wh.scalar("SELECT current_setting('memory_limit')")))
    assert size is not None
    return size


def configured_pool(app: Ordersync) -> int:
    """`duckdb_memory_limit` in bytes, as DuckDB reads it."""
    scratch = duckdb.connect()
    scratch.execute(f"SET memory_limit = '{app.settings.warehouse.duckdb_memory_limit}'")
    size = duckdb_size(str(scratch.execute("SELECT current_setting('memory_limit')").fetchone()[0]))  # type: ignore[index]
    scratch.close()
    assert size is not None
    return size


def index_memory(app: Ordersync) -> int:
    return int(app.wh.scalar("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'"))


def test_a_build_runs_while_another_connection_holds_an_open_landing(two_facades: tuple[Ordersync, Ordersync]) -> None:
    writer, builder = two_facades
    tenant = new_push_tenant(writer)
    push(writer, tenant, [event("A", AT, total="10.00")])
    configured = configured_pool(writer)
    with writer.wh.transaction():  # a push's landing, open across the build
        push(writer, tenant, [event("B", AT, total="20.00")])
        result = builder.build()
        assert result.ok
        assert built(builder, tenant.tenant_id) == {"A": Decimal("10.00")}  # B had not committed
        # DuckDB's default only while dbt ran; then the configured pool beside what the indexes held
        # as it ended (never evicted: warehouse/duckdb.py), shown to a tenth of a MiB
        assert configured <= memory_limit(writer) <= configured + index_memory(writer) + 0.1 * 2**20
    # the writer's connection was never closed: it goes on, and the next build has B
    push(writer, tenant, [event("C", AT, total="30.00")])
    assert builder.build().ok
    assert built(writer, tenant.tenant_id) == {"A": Decimal("10.00"), "B": Decimal("20.00"), "C": Decimal("30.00")}
