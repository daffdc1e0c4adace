"""`ordersync simulator`: run the VTEX-compatible store simulator."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ordersync.cli.output import console, print_json, say_error
from ordersync.simulator.config import (
    DEFAULT_ACCOUNTS,
    DEFAULT_APP_KEY,
    DEFAULT_APP_TOKEN,
    DEFAULT_DAYS,
    DEFAULT_EVENT_DUPLICATE_RATE,
    DEFAULT_HOOK_RETRY_BASE_SECONDS,
    DEFAULT_HOST,
    DEFAULT_INDEX_LAG_SECONDS,
    DEFAULT_ORDERS_PER_DAY,
    DEFAULT_PORT,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    DEFAULT_SEED,
    SimulatorConfig,
    default_accounts,
    parse_account_spec,
    parse_start,
)

app = typer.Typer(
    help="A VTEX-compatible store server (OMS list and get-order, Feed v3, Hook) and a mobile SDK event generator.",
    no_args_is_help=True,
)
_console = Console(stderr=True, soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="port to listen on; 0 picks a free one")] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="same seed, same orders")] = DEFAULT_SEED,
    accounts: Annotated[int, typer.Option(help="number of stores, named store1..storeN")] = DEFAULT_ACCOUNTS,
    orders_per_day: Annotated[float, typer.Option(help="average orders per day per store")] = DEFAULT_ORDERS_PER_DAY,
    account: Annotated[
        list[str] | None,
        typer.Option(help="NAME:ORDERS_PER_DAY[:DAYS of history], repeatable; replaces store1..storeN"),
    ] = None,
    days: Annotated[float, typer.Option(help="days of order history before --start")] = DEFAULT_DAYS,
    index_lag_seconds: Annotated[
        float, typer.Option(help="the list shows orders and their changes this long after they happen")
    ] = DEFAULT_INDEX_LAG_SECONDS,
    fault_rate: Annotated[
        float, typer.Option(help="fraction of API requests that fail, stall or return broken JSON")
    ] = 0.0,
    rate_limit_per_minute: Annotated[
        float, typer.Option(help="requests per minute per account before 429; 0 = no limit")
    ] = DEFAULT_RATE_LIMIT_PER_MINUTE,
    app_key: Annotated[str, typer.Option(help="expected X-VTEX-API-AppKey")] = DEFAULT_APP_KEY,
    app_token: Annotated[str, typer.Option(help="expected X-VTEX-API-AppToken")] = DEFAULT_APP_TOKEN,
    start: Annotated[str | None, typer.Option(help="simulated now at startup, ISO-8601; default: the real now")] = None,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second; 0 = frozen")] = 1.0,
    event_duplicate_rate: Annotated[
        float, typer.Option(help="share of feed items and hook notifications delivered twice")
    ] = DEFAULT_EVENT_DUPLICATE_RATE,
    hook_retry_base_seconds: Annotated[
        float, typer.Option(help="real seconds before a failed hook delivery is first retried; doubles each time")
    ] = DEFAULT_HOOK_RETRY_BASE_SECONDS,
) -> None:
    """Serve every store until interrupted (Ctrl+C)."""
    from ordersync.simulator.server import serve as run

    try:
        specs = [parse_account_spec(a) for a in account] if account else default_accounts(accounts, orders_per_day)
        config = SimulatorConfig(
            host=host,
            port=port,
            seed=seed,
            accounts=specs,
            days=days,
            index_lag_seconds=index_lag_seconds,
            fault_rate=fault_rate,
            rate_limit_per_minute=rate_limit_per_minute,
            app_key=app_key,
            app_token=app_token,
            start=parse_start(start) if start else None,
            speed=speed,
            event_duplicate_rate=event_duplicate_rate,
            hook_retry_base_seconds=hook_retry_base_seconds,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    def ready(url: str) -> None:
        total = sum(a.orders_per_day for a in config.accounts)
        _console.print(
            f"[bold]simulator[/bold] at {url}: {len(config.accounts)} store(s), ~{total:g} orders/day, "
            f"seed {config.seed}, index lag {config.index_lag_seconds:g} s, speed {config.speed:g}"
        )
        for spec in config.accounts:
            _console.print(f"  {spec.name:<16} {url}/{spec.name}  (~{spec.orders_per_day:g} orders/day)")
        _console.print(f"  feed and hook: {url}/NAME/api/orders/feed, /api/orders/feed/config, /api/orders/hook/config")
        _console.print(
            f"  control: {url}/_simulator/clock, /_simulator/truth?account=NAME, /_simulator/stats, /_simulator/events"
        )

    with contextlib.suppress(KeyboardInterrupt):
        run(config, on_ready=ready)


class PushFormat(StrEnum):
    ndjson = "ndjson"
    json = "json"


def _parse_sdk_start(text: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 instant (UTC when it names no zone)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--start {text!r} is not a date (2026-12-01) or an ISO-8601 instant") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.command()
def sdk(
    url: Annotated[
        str | None, typer.Option(help="push API base URL; batches go to URL/v1/tenants/TENANT/orders")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant name in the push URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="bearer token of the push API", envvar="ORDERSYNC_PUSH_TOKEN")
    ] = None,
    orders_per_day: Annotated[float, typer.Option(help="average orders per day")] = 200.0,
    days: Annotated[int, typer.Option(help="days of events, ending at the current hour (or from --start)")] = 7,
    late_share: Annotated[float, typer.Option(help="share of events the phone holds back (offline)")] = 0.1,
    max_delay_hours: Annotated[float, typer.Option(help="a held-back event arrives up to this late")] = 48.0,
    duplicate_rate: Annotated[float, typer.Option(help="share of events sent twice, byte for byte")] = 0.02,
    cancel_share: Annotated[float, typer.Option(help="share of orders canceled instead of invoiced")] = 0.1,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 42,
    start: Annotated[str | None, typer.Option(help="first day (2026-12-01) or instant of the window")] = None,
    out: Annotated[Path | None, typer.Option(help="write hourly NDJSON files here instead of pushing")] = None,
    truth: Annotated[Path | None, typer.Option(help="write each order's final state here as JSON")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="events per request (and per shuffle)")] = 500,
    format: Annotated[PushFormat, typer.Option("--format", help="request body: NDJSON lines or a JSON array")] = (
        PushFormat.ndjson
    ),
    json_output: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Generate a mobile app's order events (late, duplicated, out of order) and push them or write files."""
    from ordersync.simulator.sdk import PushError, SdkConfig, generate, push, write_files

    if out is not None and url is not None:
        raise typer.BadParameter("give --out DIR to write files or --url to push, not both")
    if out is None and not (url and tenant and token):
        raise typer.BadParameter(
            "pushing needs --url, --tenant and --token (or ORDERSYNC_PUSH_TOKEN); or give --out DIR"
        )
    try:
        config = SdkConfig(
            orders_per_day=orders_per_day,
            days=days,
            seed=seed,
            late_share=late_share,
            max_delay_hours=max_delay_hours,
            duplicate_rate=duplicate_rate,
            cancel_share=cancel_share,
            start=_parse_sdk_start(start) if start else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stream = generate(config)
    summary: dict[str, Any] = stream.summary()
    if truth is not None:
        truth.parent.mkdir(parents=True, exist_ok=True)
        truth.write_bytes(stream.truth_json())
        summary["truth_file"] = str(truth)
    failure: str | None = None
    if out is not None:
        paths = write_files(stream, out, batch_size)
        summary["files"] = {"directory": str(out), "count": len(paths), "first": paths[0].name if paths else None}
    else:
        assert url is not None and tenant is not None and token is not None
        try:
            totals = asyncio.run(push(stream, url, tenant, token, batch_size=batch_size, fmt=format.value))
        except PushError as exc:
            failure, totals = str(exc), exc.totals
        summary["push"] = {"url": url, "tenant": tenant, **totals.to_json()}
    if json_output:
        print_json(summary)
    else:
        _print_sdk_summary(console, summary)
    if failure is not None:
        say_error(failure)
        raise typer.Exit(1)


def _print_sdk_summary(out: Console, summary: dict[str, Any]) -> None:
    out.print(
        f"{summary['orders']} orders, {summary['events']} events ({summary['late_events']} late, "
        f"{summary['duplicates']} sent twice) from {summary['window_start']} to {summary['window_end']}"
    )
    statuses = ", ".join(f"{n} {status}" for status, n in summary["final_status"].items())
    out.print(
        f"final states: {statuses}; value of the orders not canceled: {summary['total_value']} "
        f"{summary['currency_code']}"
    )
    if "files" in summary:
        files = summary["files"]
        out.print(f"wrote {files['count']} hourly files to {files['directory']}")
    if "push" in summary:
        p = summary["push"]
        out.print(
            f"pushed {p['batches']} batches in {p['requests']} requests ({p['retries']} retries): received "
            f"{p['received']}, landed {p['landed']}, duplicates {p['duplicates']}, quarantined {p['quarantined']}, "
            f"{len(p['errors'])} item errors, {len(p['rejected'])} batches rejected"
        )
    if "truth_file" in summary:
        out.print(f"truth: {summary['truth_file']}")
