"""Token scopes: a push token only pushes, a read token reads one tenant, an admin token names
itself; tokens made before scopes stay push-only. Both warehouses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ordersync.cli.main import app as cli
from ordersync.cli.tokens import chosen_scope
from ordersync.clock import ManualClock
from ordersync.config import WarehouseSettings
from ordersync.errors import ConfigError
from ordersync.tenants import TenantStore
from ordersync.tenants.sessions import SessionStore, csrf_matches, csrf_token
from ordersync.tenants.tokens import Scope, TokenStore
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.migrate import available, upgrade


def _tenant(wh: Warehouse, clock: ManualClock, name: str = "shop") -> int:
    t = TenantStore(wh).add(
        name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )
    return t.tenant_id


def test_each_scope_allows_what_it_says(warehouse: Warehouse, clock: ManualClock) -> None:
    tid, tokens = _tenant(warehouse, clock), TokenStore(warehouse)
    _, push = tokens.create(tid, "app", clock.now())
    read_id, read = tokens.create(tid, "analyst", clock.now(), scope=Scope.READ)
    admin_id, admin = tokens.create(None, "maria", clock.now(), scope=Scope.ADMIN)
    _, metrics = tokens.create(None, None, clock.now(), scope=Scope.METRICS)
    assert tokens.holder_of(push) is not None
    assert [tokens.holder_of(t) for t in (read, admin, metrics)] == [None, None, None]  # only push tokens push
    found = {t: tokens.access_of(t) for t in (push, read, admin, metrics)}
    assert [(a.scope, a.tenant_id) for a in found.values() if a] == [
        (Scope.PUSH, tid),
        (Scope.READ, tid),
        (Scope.ADMIN, None),
        (Scope.METRICS, None),
    ]
    assert found[admin] is not None and found[admin].label == "maria"
    listed = {t.token_id: t.public() for t in tokens.list()}
    assert listed[admin_id]["scope"] == "admin" and listed[admin_id]["tenant"] is None
    for bad in (
        lambda: tokens.create(None, None, clock.now(), scope=Scope.ADMIN),  # an admin names itself
        lambda: tokens.create(None, "x", clock.now(), scope=Scope.READ),  # a read token has a tenant
        lambda: tokens.create(tid, "x", clock.now(), scope=Scope.METRICS),  # a metrics token has none
        lambda: tokens.create(tid, "x", clock.now(), 100, scope=Scope.READ),  # budgets are for pushes
        lambda: tokens.set_budget(read_id, 100),
    ):
        with pytest.raises(ConfigError):
            bad()


def test_a_session_lasts_until_logout_expiry_or_revocation(warehouse: Warehouse, clock: ManualClock) -> None:
    clock.set(clock.now())
    tid, tokens, sessions = _tenant(warehouse, clock), TokenStore(warehouse), SessionStore(warehouse)
    token_id, _ = tokens.create(tid, "analyst", clock.now(), scope=Scope.READ)
    first, second, third = (sessions.open(token_id, clock.now()) for _ in range(3))
    assert warehouse.scalar("SELECT count(*) FROM cdp.web_sessions WHERE session_hash = ?", (first,)) == 0
    assert csrf_matches(first, csrf_token(first)) and not csrf_matches(first, csrf_token(second))
    assert not csrf_matches(first, None)
    found = sessions.access_of(first, clock.now())
    assert found is not None and (found.scope, found.tenant_id) == (Scope.READ, tid)
    sessions.end(first, clock.now())
    assert sessions.access_of(first, clock.now()) is None
    assert sessions.access_of(second, clock.now() + timedelta(hours=13)) is None  # expired
    assert sessions.access_of(third, clock.now()) is not None
    tokens.revoke(token_id, clock.now())
    assert sessions.access_of(third, clock.now()) is None


def test_tokens_made_before_scopes_stay_push_only(empty_warehouse_url: str, clock: ManualClock) -> None:
    wh = open_warehouse(WarehouseSettings(url=empty_warehouse_url))
    try:
        wh.execute("CREATE SCHEMA IF NOT EXISTS cdp")
        wh.execute("CREATE TABLE cdp.schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "applied_at TIMESTAMPTZ NOT NULL)")  # fmt: skip
        for m in available(wh.dialect):
            if m.version < 15:
                wh.run_script(m.sql)
                wh.execute("INSERT INTO cdp.schema_migrations VALUES (?, ?, ?)", (m.version, m.name, clock.now()))
        tid = _tenant(wh, clock)
        wh.execute(
            "INSERT INTO cdp.api_tokens (token_id, tenant_id, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            ("tok_old", tid, "sdk", "ab" * 32, clock.now()),
        )
        assert [m.name for m in upgrade(wh)] == [m.name for m in available(wh.dialect) if m.version >= 15]
        [old] = TokenStore(wh).list()
        assert (old.token_id, old.scope, old.tenant_id, old.label) == ("tok_old", Scope.PUSH, tid, "sdk")
    finally:
        wh.close()


@pytest.mark.parametrize(
    "args,scope",
    [
        (("app", None, False, False), Scope.PUSH),
        (("app", "read", False, False), Scope.READ),
        ((None, None, True, False), Scope.ADMIN),
        ((None, None, False, True), Scope.METRICS),
    ],
)
def test_the_flags_choose_a_scope(args: tuple[str | None, str | None, bool, bool], scope: Scope) -> None:
    assert chosen_scope(*args) is scope


@pytest.mark.parametrize(
    "args",
    [(None, None, False, False), ("app", "admin", False, False), ("app", None, True, False), (None, None, True, True)],
)
def test_flags_that_do_not_go_together_are_refused(args: tuple[str | None, str | None, bool, bool]) -> None:
    with pytest.raises(ConfigError):
        chosen_scope(*args)


def test_tokens_create_and_list_from_the_command_line(tmp_path: Path) -> None:
    wh = ["--warehouse", str(tmp_path / "wh.duckdb")]  # in this process: a command costs no start-up here
    runner = CliRunner()
    assert runner.invoke(cli, ["tenants", "add", "app", "--platform", "push", *wh]).exit_code == 0
    no_label = runner.invoke(cli, ["tokens", "create", "--admin", *wh])
    assert no_label.exit_code == 2 and "--label" in no_label.output
    for args in (["--tenant", "app", "--scope", "read"], ["--admin", "--label", "maria"], ["--metrics"]):
        made = runner.invoke(cli, ["tokens", "create", *args, "--json", *wh])
        assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(cli, ["tokens", "list", "--json", *wh]).output)
    assert [(t["scope"], t["tenant"], t["label"]) for t in listed] == [
        ("read", "app", None),
        ("admin", None, "maria"),
        ("metrics", None, None),
    ]
