"""`ordersync tokens`: the push API's tokens, one tenant each."""

from __future__ import annotations

from typing import Annotated

import typer

from ordersync.cli.context import WarehouseOpt, facade, run_guarded
from ordersync.cli.output import console, print_json, print_table, short_time

app = typer.Typer(help="Tokens for the push API: each may push to one tenant.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="the tenant the token may push to")],
    label: Annotated[str | None, typer.Option(help="what the token is for, e.g. mobile-app")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Create a token and print it once: only its hash is stored, so it cannot be shown again."""

    def go() -> None:
        with facade(warehouse) as os_:
            token_id, token = os_.create_token(tenant, label)
        if as_json:
            print_json({"token_id": token_id, "tenant": tenant, "token": token})
            return
        console.print(f"token {token_id} for tenant {tenant} (shown once; keep it somewhere safe):")
        print(token)  # plain, so it can be piped

    run_guarded(go)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """The tokens (ids, tenants, labels; never the tokens themselves)."""

    def go() -> None:
        with facade(warehouse, read_only=True) as os_:
            rows = [t.public() for t in os_.list_tokens(tenant)]
        if as_json:
            print_json(rows)
            return
        shown = [
            {**r, "created_at": short_time(r["created_at"]), "revoked_at": short_time(r["revoked_at"], "")}
            for r in rows
        ]
        print_table("tokens", shown)

    run_guarded(go)


@app.command("revoke")
def revoke(token_id: str, warehouse: WarehouseOpt = None) -> None:
    """Revoke a token: pushes with it get 401 from now on."""

    def go() -> None:
        with facade(warehouse) as os_:
            info = os_.revoke_token(token_id)
        console.print(f"token {info.token_id} of tenant {info.tenant_name} revoked")

    run_guarded(go)
