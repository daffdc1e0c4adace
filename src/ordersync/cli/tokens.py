"""`ordersync tokens`: the push API's tokens, one tenant each."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, TenantOpt, WarehouseOpt
from ordersync.cli.output import print_json, print_table, say, short_time

PerMinuteOpt = Annotated[
    int | None,
    typer.Option(
        "--max-items-per-minute",
        help="this token's own budget (e.g. a server-side integration's); left out: [serve] max_items_per_minute",
    ),
]

app = typer.Typer(help="Tokens for the push API: each may push to one tenant.", no_args_is_help=True)


@app.command("create")
@guarded
def create(
    tenant: TenantOpt,
    label: Annotated[
        str | None, typer.Option(help="what the token is for, e.g. mobile-app (at most 100 characters)")
    ] = None,
    max_items_per_minute: PerMinuteOpt = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Create a token and print it once: only its hash is stored, so it cannot be shown again."""

    with facade(warehouse) as os_:
        token_id, token = os_.create_token(tenant, label, max_items_per_minute)
    if as_json:
        print_json({"token_id": token_id, "tenant": tenant, "token": token})
        return
    say(f"token {token_id} for tenant {tenant} (shown once; keep it somewhere safe):")
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
    """Revoke a token: pushes with it get 401 from now on."""

    with facade(warehouse) as os_:
        info = os_.revoke_token(token_id)
    say(f"token {info.token_id} of tenant {info.tenant_name} revoked")
