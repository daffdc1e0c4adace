"""`ordersync simulator`: run the VTEX-compatible store simulator."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.console import Console

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
        typer.Option(help="NAME:ORDERS_PER_DAY, repeatable; replaces store1..storeN"),
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
