"""Numbered migrations for ordersync's own tables; the schema version is the highest applied number.

`NNNN_name.sql` runs on every backend; `NNNN_name.<dialect>.sql`, when present, runs right after it on
that backend only (physical choices such as compression and indexes, never different columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from ordersync.warehouse.base import Warehouse

_PACKAGE = "ordersync.warehouse.migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available(dialect: str) -> list[Migration]:
    files = {f.name: f for f in resources.files(_PACKAGE).iterdir() if f.name.endswith(".sql")}
    out: list[Migration] = []
    for name in sorted(files):
        stem = name.removesuffix(".sql")
        if "." in stem:  # dialect-specific companion, picked up below
            continue
        sql = files[name].read_text(encoding="utf-8")
        companion = files.get(f"{stem}.{dialect}.sql")
        if companion is not None:
            sql += "\n;\n" + companion.read_text(encoding="utf-8")
        out.append(Migration(int(stem.split("_", 1)[0]), stem, sql))
    return out


def latest_version() -> int:
    return max(m.version for m in available("duckdb"))


def current_version(wh: Warehouse) -> int:
    exists = wh.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cdp' AND table_name = 'schema_migrations'"
    )
    if not exists:
        return 0
    return int(wh.scalar("SELECT coalesce(max(version), 0) FROM cdp.schema_migrations") or 0)


def upgrade(wh: Warehouse) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction; returns those applied."""
    wh.execute("CREATE SCHEMA IF NOT EXISTS cdp")
    wh.execute(
        "CREATE TABLE IF NOT EXISTS cdp.schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {int(r[0]) for r in wh.query("SELECT version FROM cdp.schema_migrations")}
    applied: list[Migration] = []
    for m in available(wh.dialect):
        if m.version in done:
            continue
        with wh.transaction():
            wh.run_script(m.sql)
            wh.execute(
                "INSERT INTO cdp.schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, datetime.now(UTC)),
            )
        applied.append(m)
    return applied
