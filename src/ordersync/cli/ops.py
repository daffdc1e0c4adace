"""`ordersync worker`, `gaps` and `progress`."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from ordersync import metrics
from ordersync.cli.context import STATE, facade, guarded
from ordersync.cli.options import JsonOpt, WarehouseOpt
from ordersync.cli.output import console, print_below, print_json, print_table, short_time
from ordersync.errors import ConfigError, RefusedError
from ordersync.serve import channel
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker


@guarded
def worker(
    once: Annotated[bool, typer.Option("--once", help="run one tick and exit")] = False,
    tick: Annotated[float, typer.Option("--tick", help="seconds between ticks (on ordersync's clock)")] = 3600.0,
    concurrency: Annotated[int, typer.Option("--concurrency", help="tenants synced at once")] = 4,
    business_hours: Annotated[
        str, typer.Option("--business-hours", help="local hours when no historical sync runs, e.g. 8-20")
    ] = "8-20",
    lease_seconds: Annotated[
        float | None, typer.Option(help="a dead worker's tenants are taken over after this (default 60)")
    ] = None,
    worker_id: Annotated[str | None, typer.Option("--worker-id", help="name in the run log and leases")] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="land only; skip dbt builds")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="serve this worker's own metrics (Prometheus) on this port (0: any free)"),
    ] = None,
    metrics_host: Annotated[str, typer.Option("--metrics-host", help="address of the metrics port")] = "127.0.0.1",
    warehouse: WarehouseOpt = None,
) -> None:
    """Keep every enabled tenant current: incrementals, historical gap-fill off-hours, Sunday full syncs."""

    try:
        start, end = (int(x) for x in business_hours.split("-"))
    except ValueError:
        raise ConfigError(f"--business-hours {business_hours!r}: use START-END hours, e.g. 8-20") from None
    schedule = ScheduleSettings(
        tick_seconds=tick,
        concurrency=concurrency,
        business_hours_start=start,
        business_hours_end=end,
        build_after_tick=not no_build,
    )
    if lease_seconds is not None:
        STATE.overrides.setdefault("sync", {})["lease_seconds"] = lease_seconds
    if channel.forwarded():
        _worker_inside_serve(schedule, once, worker_id, warehouse)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with facade(warehouse, progress=False, worker_id=worker_id) as app:
        app.upgrade()  # a writing command: migrate (under the lock) before anything else
        w = Worker(app, schedule)
        server = None
        if metrics_port is not None:
            # this process's metrics only: what the warehouse holds is serve's to show
            try:
                url, server, _ = metrics.serve_http(metrics_port, metrics_host)
            except OSError as exc:
                raise ConfigError(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror}") from None
            console.print(f"worker metrics on {url}")
        console.print(f"worker {w.worker_id} on {app.warehouse_url}, tick {tick:g} s")
        try:
            w.run(stop, once=once)
        finally:
            if server is not None:
                server.shutdown()


def _worker_inside_serve(schedule: ScheduleSettings, once: bool, worker_id: str | None, warehouse: str | None) -> None:
    """`ordersync worker` sent to a running serve, which holds the DuckDB file and runs the
    worker's schedule itself: a second endless worker is refused; --once runs one tick there."""
    if not once:
        raise RefusedError(
            "ordersync serve is running on this DuckDB file and runs the worker's schedule itself "
            "(its --tick sets how often); stop serve to run a worker of your own, or run "
            "`ordersync worker --once` for one tick inside serve"
        )
    with facade(warehouse, progress=False, worker_id=worker_id) as app:
        Worker(app, schedule).run(once=True)
    console.print("ordersync serve runs the worker on this DuckDB file: ran one tick inside it")


@guarded
def gaps(
    days: Annotated[int, typer.Option(help="complete days to check, back from yesterday")] = 30,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Days where the warehouse holds fewer orders or less revenue than the source, and days behind."""

    with facade(warehouse, progress=False, read_only=True) as app:
        rows = app.gaps(days)
    if as_json:
        print_json(rows)
    elif rows:
        short = [
            {
                "tenant": r["tenant"],
                "day": r["date"],
                "orders held/source": f"{r['warehouse_orders']}/{r['source_orders']}",
                "revenue held/source": f"{r['warehouse_revenue']}/{r['source_revenue']}",
                "days behind": r["days_behind"],
            }
            for r in rows
            if r["date"] is not None
        ]
        if short:
            print_table("days short of the source", short, below=())
        for r in rows:
            if r["date"] is None:
                behind = r["days_behind"]
                if "note" in r:
                    print_below(r["tenant"], r["note"])
                else:
                    print_below(r["tenant"], "nothing landed yet" if behind is None else f"{behind} days behind")
    else:
        console.print(f"no gaps in the last {days} days")


@guarded
def progress(as_json: JsonOpt = False, warehouse: WarehouseOpt = None) -> None:
    """Historical sync progress per tenant."""

    with facade(warehouse, progress=False, read_only=True) as app:
        rows: list[dict[str, Any]] = app.progress()
    if as_json:
        print_json(rows)
        return
    table = [
        {
            "tenant": r["tenant"],
            "go live": r["go_live_date"],
            "history until": short_time(r["history_until"]),
            "frontier": short_time(r["frontier"]),
            "done": f"{r['progress']:.0%}",
            "completed": r["initial_sync_completed"],
        }
        for r in rows
    ]
    print_table("historical sync progress", table)
    if rows:
        console.print(f"direction: {rows[0]['direction']}", markup=False, highlight=False)
