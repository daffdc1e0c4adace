"""The sync run log, cdp.sync_runs: every run, its counters, outcome and error; `listed` reads it back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ordersync.outcomes import RunStatus
from ordersync.warehouse import Warehouse

#: cdp.sync_runs' columns, in the table's order: the keys of `listed`'s items (with `tenant`)
COLUMNS = (
    "run_id",
    "tenant_id",
    "mode",
    "status",
    "started_at",
    "finished_at",
    "window_start",
    "window_end",
    "orders_listed",
    "orders_fetched",
    "versions_landed",
    "late_versions",
    "quarantined",
    "list_calls",
    "get_calls",
    "retries",
    "worker_id",
    "error",
    "wall_started_at",
    "wall_finished_at",
    "attempt",
    "discrepancies",
    "discrepancies_fixed",
    "throttled",
    "throttle_wait_seconds",
    "pace_wait_seconds",
    "lease_token",
)


@dataclass
class RunCounters:
    orders_listed: int = 0
    orders_fetched: int = 0
    versions_landed: int = 0
    late_versions: int = 0
    quarantined: int = 0
    list_calls: int = 0
    get_calls: int = 0
    retries: int = 0
    discrepancies: int | None = None
    discrepancies_fixed: int | None = None
    #: requests answered 429, seconds slept after them, seconds waited for the account's budget
    throttled: int = 0
    throttle_wait_seconds: float = 0.0
    pace_wait_seconds: float = 0.0


def start(
    wh: Warehouse,
    run_id: str,
    tenant_id: int,
    mode: str,
    now: datetime,
    worker_id: str | None,
    window: tuple[datetime, datetime] | None = None,
    attempt: int = 1,
    lease_token: int | None = None,
) -> None:
    wh.execute(
        "INSERT INTO cdp.sync_runs (run_id, tenant_id, mode, status, started_at, worker_id, window_start, "
        "window_end, wall_started_at, attempt, lease_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            tenant_id,
            mode,
            RunStatus.RUNNING.value,
            now,
            worker_id,
            window[0] if window else None,
            window[1] if window else None,
            datetime.now(UTC),
            attempt,
            lease_token,
        ),
    )


def finish(
    wh: Warehouse, run_id: str, status: RunStatus, now: datetime, counters: RunCounters, error: str | None = None
) -> None:
    c: dict[str, Any] = asdict(counters)
    wh.execute(
        "UPDATE cdp.sync_runs SET status = ?, finished_at = ?, wall_finished_at = ?, error = ?, "
        + ", ".join(f"{k} = ?" for k in c)
        + " WHERE run_id = ?",
        (status.value, now, datetime.now(UTC), error, *c.values(), run_id),
    )


def counters(wh: Warehouse, run_id: str) -> RunCounters:
    """A run's counters as recorded (zeros for a run that is not there)."""
    names = [f.name for f in fields(RunCounters)]
    row = wh.query_one(f"SELECT {', '.join(names)} FROM cdp.sync_runs WHERE run_id = ?", (run_id,))
    if row is None:
        return RunCounters()
    return RunCounters(
        **{n: (v if v is not None or n.startswith("discrepancies") else 0) for n, v in zip(names, row, strict=True)}
    )


@dataclass(frozen=True)
class PullHistory:
    """What a schedule decides from, per tenant id: the start of the last successful full run, of
    the first successful incremental one, and every stream's checkpoint."""

    last_full: dict[int, datetime]
    first_sync: dict[int, datetime]
    checkpoints: dict[int, dict[str, datetime]]


def pull_history(wh: Warehouse) -> PullHistory:
    last_full = wh.query(
        "SELECT tenant_id, max(started_at) FROM cdp.sync_runs "
        "WHERE mode = 'full' AND status = 'succeeded' GROUP BY tenant_id"
    )
    first_sync = wh.query(
        "SELECT tenant_id, min(started_at) FROM cdp.sync_runs "
        "WHERE mode = 'incremental' AND status = 'succeeded' GROUP BY tenant_id"
    )
    ckpts: dict[int, dict[str, datetime]] = {}
    for tid, stream, pos in wh.query("SELECT tenant_id, stream, position FROM cdp.sync_checkpoints"):
        ckpts.setdefault(tid, {})[stream] = pos
    return PullHistory(dict(last_full), dict(first_sync), ckpts)


#: where a run logged without a wall-clock start sorts (after every run that has one, newest first)
_NO_WALL = datetime(1, 1, 1, tzinfo=UTC)


def run_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """A `listed` item's place in the log (newest first): the key its keyset cursor holds."""
    return (item["started_at"], item["wall_started_at"], item["run_id"])


def listed(
    wh: Warehouse,
    *,
    tenant_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    after: tuple[Any, ...] | None = None,
) -> list[dict[str, Any]]:
    """The run log, newest first (by `started_at`, the run's clock; then by wall-clock start): one
    item per run with every column of cdp.sync_runs and the tenant's name as `tenant`, datetimes as
    ISO-8601 strings. `tenant_id` keeps one tenant's runs, `since` those started at or after it,
    `after` (a `run_key`) those that come after that run in this order."""
    where: list[str] = []
    params: list[Any] = []
    if tenant_id is not None:
        where.append("r.tenant_id = ?")
        params.append(tenant_id)
    if since is not None:
        where.append("r.started_at >= ?")
        params.append(since)
    if after is not None:
        started, wall, run_id = datetime.fromisoformat(after[0]), _wall(after[1]), str(after[2])
        where.append(
            "(r.started_at < ? OR (r.started_at = ? AND (coalesce(r.wall_started_at, ?) < ? "
            "OR (coalesce(r.wall_started_at, ?) = ? AND r.run_id < ?))))"
        )
        params += [started, started, _NO_WALL, wall, _NO_WALL, wall, run_id]
    rows = wh.query(
        f"SELECT {', '.join(f'r.{c}' for c in COLUMNS)}, t.tenant_name FROM cdp.sync_runs r "
        "LEFT JOIN cdp.tenants t ON t.tenant_id = r.tenant_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY r.started_at DESC, coalesce(r.wall_started_at, ?) DESC, r.run_id DESC LIMIT ?",
        (*params, _NO_WALL, limit),
    )
    out: list[dict[str, Any]] = []
    for *values, tenant in rows:
        item: dict[str, Any] = {}
        for column, value in zip(COLUMNS, values, strict=True):
            item[column] = value.isoformat() if isinstance(value, datetime) else value
            if column == "tenant_id":
                item["tenant"] = tenant
        out.append(item)
    return out


def _wall(text: str | None) -> datetime:
    return _NO_WALL if text is None else datetime.fromisoformat(text)
