"""`ordersync` command line."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from ordersync.cli import capture as capture_cmd
from ordersync.cli import customers as customers_cmd
from ordersync.cli import dbt as dbt_cmd
from ordersync.cli import demo as demo_cmd
from ordersync.cli import ingest as ingest_cmd
from ordersync.cli import lateness as lateness_cmd
from ordersync.cli import ops
from ordersync.cli import plans as plans_cmd
from ordersync.cli import revenue as revenue_cmd
from ordersync.cli import runs as runs_cmd
from ordersync.cli.context import STATE, facade, guarded, log_options, run_command_line
from ordersync.cli.logs import LogFormat, LogLevel, configure_logging
from ordersync.cli.notices import app as notices_app
from ordersync.cli.options import JsonOpt, TenantsOpt, WarehouseOpt
from ordersync.cli.output import console, print_below, print_json, print_pages, print_table, short_time
from ordersync.cli.quarantine import app as quarantine_app
from ordersync.cli.serve import serve as serve_cmd
from ordersync.cli.simulator import app as simulator_app
from ordersync.cli.tokens import app as tokens_app
from ordersync.cli.verify import verify as verify_cmd
from ordersync.config import DEFAULT_TIMEZONE
from ordersync.errors import ConfigError
from ordersync.paging import MAX_LIMIT
from ordersync.reads import Reads
from ordersync.secrets import command_variables
from ordersync.serve.channel import ForwardToServe, forward, forwarded

app = typer.Typer(
    name="ordersync",
    help="Keep every tenant's orders complete and correct in the warehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tenants_app = typer.Typer(help="Register and manage the stores ordersync syncs.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(simulator_app, name="simulator")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(tokens_app, name="tokens")
app.add_typer(revenue_cmd.app, name="revenue")
app.add_typer(plans_cmd.backfill_app, name="backfill")
app.add_typer(plans_cmd.plan_app, name="plan")
app.add_typer(capture_cmd.feed_app, name="feed")
app.add_typer(capture_cmd.hook_app, name="hook")
app.add_typer(dbt_cmd.app, name="dbt")
app.add_typer(notices_app, name="notices")
app.add_typer(customers_cmd.app, name="customers")


@app.callback()
def _global(
    warehouse: WarehouseOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="configuration file (default ./ordersync.toml)")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks, and debug logs unless --log-level says otherwise")
    ] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format", help="logs on stderr: text lines, or one JSON object a line (default: \\[log] format, text)"
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option("--log-level", help="the least severe level logged (default: \\[log] level, warning)"),
    ] = None,
) -> None:
    STATE.warehouse, STATE.config, STATE.debug = warehouse, config, debug
    fmt, level = log_options(config, log_format, log_level, debug)
    STATE.log_format = fmt
    if not forwarded():  # a command run inside serve leaves serve's logging as it is
        configure_logging(debug, fmt=fmt, level=level)


@app.command()
@guarded
def init(warehouse: WarehouseOpt = None) -> None:
    """Create or upgrade the warehouse schema `cdp`."""

    with facade(warehouse) as os_:
        version, applied = os_.init()
        what = f"applied {', '.join(applied)}" if applied else "already up to date"
        console.print(f"warehouse {os_.warehouse_url}: schema version {version} ({what})")


def _go_live(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ConfigError(f"--go-live-date {text!r} is not a date; use YYYY-MM-DD") from None


@tenants_app.command("add")
@guarded
def tenants_add(
    name: str,
    account: Annotated[
        str | None, typer.Option(help="the platform account name, e.g. the VTEX store account (not for push)")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="the account's API base URL (not for push)")] = None,
    app_key_env: Annotated[
        str | None, typer.Option(help="NAME of the environment variable holding the app key")
    ] = None,
    app_token_env: Annotated[
        str | None, typer.Option(help="NAME of the environment variable holding the app token")
    ] = None,
    platform: Annotated[
        str, typer.Option(help="commerce platform: vtex (pulled), or push (no pull API: pushed or ingested)")
    ] = "vtex",
    timezone: Annotated[str, typer.Option(help="IANA time zone for order dates")] = DEFAULT_TIMEZONE,
    frequency_hours: Annotated[int, typer.Option(help="hours between incremental syncs")] = 6,
    go_live_date: Annotated[str | None, typer.Option(help="first day of history to sync (YYYY-MM-DD)")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Register a tenant. Credentials stay in the environment; only the variable names are stored."""

    live = _go_live(go_live_date)
    with facade(warehouse) as os_:
        t = os_.add_tenant(
            name,
            account=account,
            base_url=base_url,
            app_key_env=app_key_env,
            app_token_env=app_token_env,
            platform=platform,
            timezone=timezone,
            frequency_hours=frequency_hours,
            go_live_date=live,
        )
        console.print(f"tenant {t.tenant_name} added (id {t.tenant_id})")


@tenants_app.command("list")
@guarded
def tenants_list(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """List the tenants."""

    with facade(warehouse, read_only=True) as os_:
        rows = [t.public() for t in os_.list_tenants()]
    if as_json:
        print_json(rows)
        return
    labels = {
        "tenant_id": "id",
        "tenant_name": "tenant",
        "platform": "platform",
        "account": "account",
        "sync_enabled": "enabled",
        "sync_frequency_hours": "every (h)",
        "last_sync_at": "last sync",
        "timezone": "time zone",
    }
    print_table("tenants", [{**r, "last_sync_at": short_time(r["last_sync_at"], "never")} for r in rows], labels)


@tenants_app.command("show")
@guarded
def tenants_show(name: str, warehouse: WarehouseOpt = None) -> None:
    """Show one tenant (credential variable names and whether they are set, never their values)."""

    with facade(warehouse, read_only=True) as os_:
        t = os_.get_tenant(name).public()
    for var in ("app_key_env", "app_token_env"):
        if t.get(var):
            t[var] += " (set)" if command_variables().get(t[var]) is not None else " (NOT set)"
    print_table(f"tenant {name}", [{"field": k, "value": v} for k, v in t.items()])


@tenants_app.command("set")
@guarded
def tenants_set(
    name: str,
    change_capture: Annotated[
        str | None, typer.Option(help="changes besides the pull: none, feed (VTEX Feed v3) or hook (VTEX Hook)")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone for order dates")] = None,
    frequency_hours: Annotated[int | None, typer.Option(help="hours between incremental syncs")] = None,
    go_live_date: Annotated[str | None, typer.Option(help="first day of history to sync (YYYY-MM-DD)")] = None,
    country: Annotated[
        str | None, typer.Option(help="country customers' documents and phones are read for, e.g. BR")
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Change a tenant's settings; what is not given stays as it is."""

    live = _go_live(go_live_date)
    with facade(warehouse) as os_:
        t = os_.update_tenant(
            name,
            change_capture=change_capture,
            timezone=timezone,
            frequency_hours=frequency_hours,
            go_live_date=live,
            country=country,
        )
    console.print(
        f"tenant {t.tenant_name}: change capture {t.change_capture}, time zone {t.timezone}, "
        f"every {t.sync_frequency_hours} h" + (f", country {t.country}" if t.country else "")
    )


@guarded
def _set_enabled(name: str, enabled: bool, warehouse: str | None) -> None:
    with facade(warehouse) as os_:
        t = os_.set_tenant_enabled(name, enabled)
    console.print(f"tenant {t.tenant_name} {'enabled' if t.sync_enabled else 'disabled'}")


@tenants_app.command("enable")
def tenants_enable(name: str, warehouse: WarehouseOpt = None) -> None:
    """Enable syncing for a tenant."""
    _set_enabled(name, True, warehouse)


@tenants_app.command("disable")
def tenants_disable(name: str, warehouse: WarehouseOpt = None) -> None:
    """Disable syncing for a tenant."""
    _set_enabled(name, False, warehouse)


@app.command()
@guarded
def sync(
    tenant: TenantsOpt = None,
    mode: Annotated[str, typer.Option(help="incremental | historical | full")] = "incremental",
    no_build: Annotated[bool, typer.Option("--no-build", help="land only; skip the dbt build")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Sync tenants from their source into the warehouse, then build the models."""

    def go() -> bool:
        with facade(warehouse, progress=not as_json) as os_:
            report = os_.sync(tenant or None, mode=mode, build=False if no_build else None)
        rows: list[dict[str, Any]] = [
            {
                "tenant": o.tenant_name,
                "mode": o.mode,
                "status": o.status,
                "listed": o.counters.orders_listed,
                "fetched": o.counters.orders_fetched,
                "landed": o.counters.versions_landed,
                "late": o.counters.late_versions,
                "quarantined": o.counters.quarantined,
                "seconds": round(o.seconds, 2),
                "error": o.error,
                "run_id": o.run_id,
            }
            for o in report.outcomes
        ]
        if as_json:
            print_json(
                {
                    "runs": rows,
                    "attempts": report.attempts,
                    "build_seconds": report.build_seconds,
                    "build_error": report.build_error,
                    "failed": [o.tenant_name for o in report.failures],
                    "ok": report.ok,
                }
            )
        else:
            print_table("sync", rows, [c for c in rows[0] if c != "run_id"] if rows else None)
            if report.build_error is not None:
                print_below("dbt build failed", report.build_error)
            elif report.build_seconds is not None:
                console.print(f"dbt build: {report.build_seconds:.1f} s")
            if report.failures:
                names = ", ".join(o.tenant_name for o in report.failures)
                console.print(f"{len(report.failures)} of {len(report.outcomes)} tenants failed: {names}")
        return report.ok

    if not go():
        raise typer.Exit(1)


@app.command()
@guarded
def build(warehouse: WarehouseOpt = None) -> None:
    """Build the dbt models (stg_orders, fct_orders, order_events) and run their tests."""

    with facade(warehouse) as os_:
        result = os_.build()
    console.print(f"dbt build passed in {result.seconds:.1f} s")


@app.command()
@guarded
def status(as_json: JsonOpt = False, warehouse: WarehouseOpt = None) -> None:
    """Per tenant: Current / Behind / Stale, last run and its outcome, orders landed and built."""

    with facade(warehouse, progress=False, read_only=True) as os_:
        if as_json:  # the API's pages (GET /v1/tenants), every one
            print_pages(lambda after: Reads(os_).tenants(None, after, MAX_LIMIT))
            return
        rows = os_.status()
    # two narrow tables instead of one too wide for a terminal; the last error goes under them
    sync_state = [
        {
            "tenant": r["tenant"],
            "state": r["state"] + ("" if r["enabled"] else " (disabled)"),
            "last sync": short_time(r["last_sync_at"], "never"),
            "last run": f"{r['last_run_mode'] or ''} {r['last_run_status'] or ''}".strip(),
            "history": r["historical_progress"],
        }
        for r in rows
    ]
    counts = [
        {
            "tenant": r["tenant"],
            "today": r["orders_today"],
            "landed": r["orders_landed"],
            "in fct_orders": r["orders_in_fct"],
            "quarantined": r["quarantined"],
            "open discrepancies": r["open_discrepancies"],
        }
        for r in rows
    ]
    print_table("status", sync_state, below=())
    print_table("orders", counts, below=())
    for r in rows:
        if r["last_run_error"]:
            print_below(r["tenant"], f"last run failed: {r['last_run_error']}")
    build = rows[0] if rows else None
    if build is not None and build["last_build_status"] is not None:
        when = short_time(build["last_build_at"])
        if build["last_build_error"]:
            print_below(f"last build {build['last_build_status']} at {when}", build["last_build_error"])
        else:
            console.print(f"last build {build['last_build_status']} at {when}")
    for r in rows:
        if r["build_held"]:
            since = short_time(r["build_held"]["since"])
            print_below(f"{r['tenant']} left out of builds since {since}", r["build_held"]["error"])


app.command(name="ingest")(ingest_cmd.ingest)
app.command(name="land", help="The older name of `ingest`, with the same options.")(ingest_cmd.ingest)
app.command(name="demo")(demo_cmd.demo)
app.command(name="serve")(serve_cmd)
app.command(name="worker")(ops.worker)
app.command(name="gaps")(ops.gaps)
app.command(name="progress")(ops.progress)
app.command(name="lateness")(lateness_cmd.lateness)
app.command(name="verify")(verify_cmd)
app.command(name="runs")(runs_cmd.runs)
app.command(name="builds")(runs_cmd.builds)


def main() -> None:
    try:
        app()
    except ForwardToServe as hand_over:  # a running serve holds the DuckDB file: run it there
        sys.exit(forward(hand_over.path, sys.argv[1:]))
    except SystemExit as exc:
        sys.exit(exc.code)


def run_in_process(argv: list[str]) -> int:
    """Run one command line of this CLI in this process; its exit code. `ordersync serve` hands its
    own runner to the serve process; a serve started elsewhere (a test) is given this one."""
    return run_command_line(typer.main.get_command(app), argv)
