"""`ordersync runs` (the sync run log, cdp.sync_runs) and `ordersync builds` (the build log, cdp.build_runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, WarehouseOpt
from ordersync.cli.output import print_json, print_table, say, short_time
from ordersync.errors import ConfigError
from ordersync.paging import MAX_LIMIT
from ordersync.reads import Reads

LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT, help=f"show at most N (1..{MAX_LIMIT})")]
#: a run id is a 32-digit hex uuid: the table shows its start (--json has it whole)
RUN_ID_SHOWN = 8
#: an error under the table is one line, cut here (--json has it in full)
ERROR_SHOWN = 200


def parse_since(text: str | None) -> datetime | None:
    """`--since`: an ISO-8601 date (midnight UTC) or date-time (UTC unless it gives its offset)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not an ISO date or date-time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def one_line(text: str | None, limit: int = ERROR_SHOWN) -> str:
    """`text` on one line (runs of white space as one space), cut to `limit` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def wall_seconds(item: dict[str, Any]) -> float | None:
    """How long a run took by the wall clock (None while it runs, or for a run logged without it)."""
    began, ended = item.get("wall_started_at"), item.get("wall_finished_at")
    if not began or not ended:
        return None
    return round((datetime.fromisoformat(ended) - datetime.fromisoformat(began)).total_seconds(), 1)


@guarded
def runs(
    tenant: SomeTenantOpt = None,
    since: Annotated[
        str | None,
        typer.Option(help="runs started at or after this ISO date or date-time (UTC unless an offset is given)"),
    ] = None,
    limit: LimitOpt = 100,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """The sync run log, newest first: mode, outcome, when (the run's clock), how long (wall clock),
    counts, discrepancies and errors. Run ids are shortened in the table; --json has every column."""

    start = parse_since(since)
    with facade(warehouse, progress=False, read_only=True) as os_:
        items = Reads(os_).runs(tenant, None, start, None, limit).data  # the API's first page of --limit
    if as_json:
        print_json(items)
        return
    if not items:
        say("sync runs: nothing to show")
        return
    # two narrow tables instead of one too wide for a terminal (as `status`); errors under both
    shown = [r["run_id"][:RUN_ID_SHOWN] for r in items]
    print_table(
        "sync runs",
        [
            {
                "run": run,
                "tenant": r["tenant"] if r["tenant"] is not None else r["tenant_id"],
                "mode": r["mode"],
                "status": r["status"],
                "started": short_time(r["started_at"]),
                "seconds": wall_seconds(r),
            }
            for run, r in zip(shown, items, strict=True)
        ],
        below=(),
    )
    print_table(
        "counts",
        [
            {
                "run": run,
                "listed": r["orders_listed"],
                "fetched": r["orders_fetched"],
                "landed": r["versions_landed"],
                "late": r["late_versions"],
                "quarantined": r["quarantined"],
                "discrepancies": r["discrepancies"],
                "error": one_line(r["error"]),
            }
            for run, r in zip(shown, items, strict=True)
        ],
    )


@guarded
def builds(limit: LimitOpt = 100, as_json: JsonOpt = False, warehouse: WarehouseOpt = None) -> None:
    """The build log, newest first: outcome, what started it, when, how long, the tenants a build
    left out, and errors. --json has every column."""

    with facade(warehouse, progress=False, read_only=True) as os_:
        items = Reads(os_).builds(None, limit).data  # the API's first page of --limit
    if as_json:
        print_json(items)
        return
    rows = [
        {
            "build": b["build_id"],
            "status": b["status"],
            "trigger": b["trigger"],
            "command": b["command"],
            "started": short_time(b["started_at"]),
            "seconds": b["seconds"],
            "worker": b["worker_id"],
            "left out": ", ".join(str(f.get("tenant")) for f in b["failed_tenants"]),
            "error": one_line(b["error"]),
        }
        for b in items
    ]
    print_table("builds", rows)
