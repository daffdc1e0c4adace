from __future__ import annotations

from collections.abc import Callable

from ordersync.warehouse import LANDING_COLUMNS, Warehouse
from ordersync.warehouse.migrate import current_version, latest_version, upgrade

RowFactory = Callable[..., tuple[object, ...]]


def test_migrations_are_idempotent_and_versioned(warehouse: Warehouse) -> None:
    assert current_version(warehouse) == latest_version()
    assert upgrade(warehouse) == []
    tables = {
        r[0] for r in warehouse.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'cdp'")
    }
    assert {"tenants", "sync_checkpoints", "sync_runs", "orders_landing", "quarantine"} <= tables


def test_same_columns_and_types_on_both_backends(warehouse: Warehouse) -> None:
    cols = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'cdp' AND table_name = 'orders_landing' ORDER BY ordinal_position"
    )
    names = [c[0] for c in cols]
    identifiers = ["customer_document", "customer_document_type", "customer_phone"]  # 0012, after batch_id
    landing = [c for c in LANDING_COLUMNS if c not in identifiers]
    assert names[1:] == [*landing, "batch_id", *identifiers]  # batch_id: the landing ledger's (0006), set by Lander
    types = {c[0]: c[1].lower() for c in cols}
    assert "time zone" in types["event_time"] and "time zone" in types["event_ingested_at"]
    assert types["total_value"].startswith(("numeric", "decimal"))
    assert types["order_date"] == "date"
    assert types["tenant_id"] == "integer"
    assert types["batch_id"] == "bigint"


def test_identical_payload_lands_once(warehouse: Warehouse, make_row: RowFactory) -> None:
    with warehouse.transaction():
        assert warehouse.insert_landing([make_row("a", "h1"), make_row("a", "h1"), make_row("a", "h2")]) == 2
    with warehouse.transaction():
        assert (
            warehouse.insert_landing([make_row("a", "h1"), make_row("b", "h1"), make_row("a", "h1", tenant_id=2)]) == 2
        )
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == 4


def test_rolled_back_transaction_lands_nothing(warehouse: Warehouse, make_row: RowFactory) -> None:
    try:
        with warehouse.transaction():
            warehouse.insert_landing([make_row("a", "h1")])
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    assert warehouse.scalar("SELECT count(*) FROM cdp.orders_landing") == 0


def test_postgres_physical_choices_are_applied(warehouse: Warehouse) -> None:
    if warehouse.dialect != "postgres":
        assert warehouse.dialect == "duckdb"
        return
    compression = warehouse.scalar(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = 'cdp.orders_landing'::regclass "
        "AND attname = 'payload'"
    )
    assert compression == "l"  # lz4
    indexes = {r[0] for r in warehouse.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'cdp'")}
    assert {"orders_landing_version_uq", "orders_landing_processed_idx"} <= indexes


def test_an_older_schema_upgrades_in_place(empty_warehouse_url: str, make_row: RowFactory) -> None:
    from ordersync.config import WarehouseSettings
    from ordersync.warehouse import open_warehouse
    from ordersync.warehouse.migrate import available

    wh = open_warehouse(WarehouseSettings(url=empty_warehouse_url))
    try:
        first = available(wh.dialect)[0]
        wh.execute("CREATE SCHEMA IF NOT EXISTS cdp")
        wh.execute(
            "CREATE TABLE cdp.schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        wh.run_script(first.sql)
        wh.execute("INSERT INTO cdp.schema_migrations VALUES (1, ?, now())", (first.name,))
        # the columns of version 1 (a row of today's has columns later migrations add)
        columns = LANDING_COLUMNS[: LANDING_COLUMNS.index("run_id") + 1]
        wh.execute(
            f"INSERT INTO cdp.orders_landing ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            make_row("kept", "h")[: len(columns)],
        )
        assert current_version(wh) == 1
        applied = [m.version for m in upgrade(wh)]
        assert applied == list(range(2, latest_version() + 1))
        assert current_version(wh) == latest_version()
        assert wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE order_id = 'kept'") == 1
        assert wh.scalar("SELECT count(*) FROM cdp.discrepancies") == 0
    finally:
        wh.close()
