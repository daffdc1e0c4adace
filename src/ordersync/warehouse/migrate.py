"""Numbered migrations for ordersync's own tables; the schema version is the highest applied number.

`NNNN_name.sql` runs on every backend; `NNNN_name.<dialect>.sql`, when present, runs right after it on
that backend only (physical choices such as compression and indexes, never different columns).

upgrade() is explicit (commands that write call it) and holds the warehouse's migration lock, so
any number of processes starting at once on a fresh or older warehouse all succeed; check() is for
read-only commands and never changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from ordersync.errors import SchemaError
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
    if not wh.has_table("schema_migrations"):
        return 0
    return int(wh.scalar("SELECT coalesce(max(version), 0) FROM cdp.schema_migrations") or 0)


def check(wh: Warehouse) -> int:
    """The warehouse's schema version when it is the one this ordersync needs; SchemaError when it is
    empty, behind or newer. Reads only."""
    current, needed = current_version(wh), latest_version()
    if current > needed:
        raise _newer(wh, current, needed)
    if current < needed:
        state = " (empty)" if current == 0 else ""
        raise SchemaError(
            f"the warehouse at {wh.display_url} is at schema version {current}{state}; this ordersync "
            f"needs {needed}: run `ordersync init`"
        )
    return current


def upgrade(wh: Warehouse) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction; returns those applied.

    Waits for the migration lock first (another process may be migrating), then reads what is
    applied, so nothing runs twice. Refuses a schema newer than this ordersync's."""
    with wh.migration_lock():
        # IF NOT EXISTS still races (two creators both find nothing): only inside the lock.
        wh.execute("CREATE SCHEMA IF NOT EXISTS cdp")
        wh.execute(
            "CREATE TABLE IF NOT EXISTS cdp.schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {int(r[0]) for r in wh.query("SELECT version FROM cdp.schema_migrations")}
        needed = latest_version()
        if done and max(done) > needed:
            raise _newer(wh, max(done), needed)
        applied: list[Migration] = []
        pending = [m for m in available(wh.dialect) if m.version not in done]
        if not pending:
            return applied
        # a migration may read every landed payload: DuckDB's default memory limit while they run,
        # the process's own set back exactly afterwards (as for a build)
        with wh.building():
            for m in pending:
                with wh.transaction():
                    wh.run_script(m.sql)
                    wh.execute(
                        "INSERT INTO cdp.schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (m.version, m.name, datetime.now(UTC)),
                    )
                applied.append(m)
        return applied


def _newer(wh: Warehouse, current: int, needed: int) -> SchemaError:
    return SchemaError(
        f"the warehouse at {wh.display_url}: schema version {current} is newer than this ordersync's "
        f"{needed}; upgrade ordersync"
    )
