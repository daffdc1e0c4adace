"""`ordersync tokens`: API tokens, each with a scope: push or read (one tenant), admin, metrics."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, WarehouseOpt
from ordersync.cli.output import print_json, print_table, say, short_time
from ordersync.errors import ConfigError
from ordersync.tenants.tokens import Scope

PerMinuteOpt = Annotated[
    int | None,
    typer.Option(
        "--max-items-per-minute",
        help="this token's own budget (e.g. a server-side integration's); left out: [serve] max_items_per_minute",
    ),
]

app = typer.Typer(
    help="API tokens: push or read (one tenant each), admin (every tenant and the actions), metrics.",
    no_args_is_help=True,
)


def chosen_scope(tenant: str | None, scope: str | None, admin: bool, metrics: bool) -> Scope:
    """The scope the flags ask for: --tenant NAME [--scope push|read], --admin or --metrics."""
    if admin and metrics:
        raise ConfigError("--admin or --metrics: choose one")
    if admin or metrics:
        if tenant is not None or scope is not None:
            raise ConfigError("an admin or metrics token sees every tenant: leave out --tenant and --scope")
        return Scope.ADMIN if admin else Scope.METRICS
    if tenant is None:
        raise ConfigError("give --tenant NAME (a push or read token), --admin --label NAME, or --metrics")
    if scope not in (None, Scope.PUSH.value, Scope.READ.value):
        raise ConfigError(f"--scope {scope!r}: use push or read (or --admin, --metrics)")
    return Scope(scope or Scope.PUSH.value)


@app.command("create")
@guarded
def create(
    tenant: SomeTenantOpt = None,
    scope: Annotated[
        str | None, typer.Option("--scope", help="with --tenant: push (default; pushes only) or read (reads only)")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="every tenant's data and the actions (needs --label: the approver's name)")
    ] = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="only scrapes /metrics")] = False,
    label: Annotated[
        str | None, typer.Option(help="what the token is for, e.g. mobile-app (at most 100 characters)")
    ] = None,
    max_items_per_minute: PerMinuteOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Create a token and print it once: only its hash is stored, so it cannot be shown again."""

    kind = chosen_scope(tenant, scope, admin, metrics)
    with facade(warehouse) as os_:
        token_id, token = os_.create_token(tenant, label, max_items_per_minute, kind)
    if as_json:
        print_json({"token_id": token_id, "scope": kind.value, "tenant": tenant, "token": token})
        return
    whose = f"for tenant {tenant}" if tenant else f"({label})" if label else ""
    say(f"{kind.value} token {token_id} {whose} (shown once; keep it somewhere safe):")
    print(token)  # plain, so it can be piped


@app.command("list")
@guarded
def list_(
    tenant: SomeTenantOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """The tokens (ids, tenants, labels; never the tokens themselves)."""

    with facade(warehouse, read_only=True) as os_:
        rows = [t.public() for t in os_.list_tokens(tenant)]
    if as_json:
        print_json(rows)
        return
    shown = [
        {**r, "created_at": short_time(r["created_at"]), "revoked_at": short_time(r["revoked_at"], "")} for r in rows
    ]
    print_table("tokens", shown)


@app.command("budget")
@guarded
def budget(
    token_id: str,
    max_items_per_minute: PerMinuteOpt = None,
    server_default: Annotated[
        bool, typer.Option("--server-default", help="drop the token's own budget: [serve] max_items_per_minute")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Set how many items a minute a token may push; a running serve applies it at the token's next push."""

    if (max_items_per_minute is None) == (not server_default):
        raise typer.BadParameter("give --max-items-per-minute N or --server-default")
    with facade(warehouse) as os_:
        info = os_.set_token_budget(token_id, max_items_per_minute)
    per_minute = "the server's budget" if info.max_items_per_minute is None else f"{info.max_items_per_minute:,}"
    say(f"token {info.token_id} of tenant {info.tenant_name}: {per_minute} items a minute")


@app.command("revoke")
@guarded
def revoke(token_id: str, warehouse: WarehouseOpt = None) -> None:
    """Revoke a token: requests with it, and the browser sessions it opened, get 401 from now on."""

    with facade(warehouse) as os_:
        info = os_.revoke_token(token_id)
    whose = f"of tenant {info.tenant_name}" if info.tenant_name else f"({info.scope.value})"
    say(f"token {info.token_id} {whose} revoked: it and its sessions are refused from now on")
