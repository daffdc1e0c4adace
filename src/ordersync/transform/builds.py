"""The build log, cdp.build_runs: every dbt build, who asked for it, its flags, outcome and error;
`recent` reads it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ordersync.outcomes import BuildStatus
from ordersync.warehouse import Warehouse

_COLUMNS = (
    "build_id, command, flags, status, started_at, finished_at, seconds, worker_id, trigger, error, failed_tenants"
)


def start(wh: Warehouse, command: str, flags: dict[str, Any], worker_id: str | None, trigger: str) -> int:
    rows = wh.query(
        "INSERT INTO cdp.build_runs (command, flags, status, started_at, worker_id, trigger) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING build_id",
        (command, json.dumps(flags, sort_keys=True), BuildStatus.RUNNING.value, datetime.now(UTC), worker_id, trigger),
    )
    return int(rows[0][0])


def finish(
    wh: Warehouse,
    build_id: int,
    status: BuildStatus,
    seconds: float,
    error: str | None,
    failed_tenants: str | None = None,
) -> None:
    """Record a build's outcome; `failed_tenants` (JSON, transform/isolation.py) names the tenants a
    build that succeeded for the others left out."""
    wh.execute(
        "UPDATE cdp.build_runs SET status = ?, finished_at = ?, seconds = ?, error = ?, failed_tenants = ? "
        "WHERE build_id = ?",
        (status.value, datetime.now(UTC), round(seconds, 3), error, failed_tenants, build_id),
    )


def abandon_dead(wh: Warehouse, is_dead: Any) -> None:
    """Builds left 'running' by a process that is gone (killed mid-build) are marked abandoned."""
    for build_id, worker_id in wh.query(
        "SELECT build_id, worker_id FROM cdp.build_runs WHERE status = ?", (BuildStatus.RUNNING.value,)
    ):
        if worker_id and is_dead(str(worker_id)):
            wh.execute(
                "UPDATE cdp.build_runs SET status = ?, error = ? WHERE build_id = ?",
                (BuildStatus.ABANDONED.value, "its process stopped before the build finished", build_id),
            )


def last_build(wh: Warehouse) -> dict[str, Any] | None:
    """The latest build as `recent` gives it, or None before the first."""
    rows = recent(wh, 1)
    return rows[0] if rows else None


def build_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """A `recent` item's place in the log (newest first): the key its keyset cursor holds."""
    return (item["started_at"], item["build_id"])


def recent(wh: Warehouse, limit: int = 20, after: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
    """The build log, newest first: every column of cdp.build_runs, datetimes as ISO-8601 strings,
    `failed_tenants` decoded (a list; [] when the build left no tenant out), `flags` as stored.
    `after` (a `build_key`) keeps the builds that come after that one in this order."""
    where, params = "", list[Any]()
    if after is not None:
        started = datetime.fromisoformat(str(after[0]))
        where = " WHERE started_at < ? OR (started_at = ? AND build_id < ?)"
        params = [started, started, int(after[1])]
    return [
        _item(r)
        for r in wh.query_dicts(
            f"SELECT {_COLUMNS} FROM cdp.build_runs{where} ORDER BY started_at DESC, build_id DESC LIMIT ?",
            (*params, limit),
        )
    ]


def _item(row: dict[str, Any]) -> dict[str, Any]:
    row["failed_tenants"] = json.loads(row["failed_tenants"]) if row.get("failed_tenants") else []
    for key in ("started_at", "finished_at"):
        if isinstance(row[key], datetime):
            row[key] = row[key].isoformat()
    return row
