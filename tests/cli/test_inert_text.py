"""Stored text is inert wherever the CLI shows it: escape sequences, bidi and zero-width characters in
tenant names, token labels, statuses and reasons are printed escaped (`\\x1b`, `\\u202e`), Rich markup
in them is printed as text, and `revenue --csv` writes cells a spreadsheet would run with a leading
quote. New tenant names follow the naming rule, labels are bounded; a tenant named before the rule
keeps working. Both warehouses, the CLI as a user runs it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from factories import push_event_json
from ordersync.cli import output
from ordersync.cli.output import print_below, print_csv, print_table, say
from ordersync.facade import Ordersync
from ordersync.sources.push.bodies import json_items
from support.cli import ordersync
from support.sim import settings_for

ESC = "\x1b[2J\x1b]0;owned\x07"
RLO = "\u202e"
# A name a tenant could have been given before the naming rule: escapes, bidi, markup, a formula.
LEGACY = f"=cmd|' /C calc'!A0 [bold red]shop[/bold red]{ESC}{RLO}gpj.exe"
HOSTILE_STATUS = f"invoiced{ESC}[link=http://evil.example]x[/link]"
UNSAFE = ("\x1b", "\x07", RLO, "\u200b")


def _render(fn: Any, *args: Any, **kwargs: Any) -> str:
    out = io.StringIO()
    fn(*args, out=Console(file=out, width=100, color_system=None), **kwargs)
    return out.getvalue()


def test_tables_lines_and_titles_show_stored_text_escaped_and_never_as_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = {"tenant": LEGACY, "status": HOSTILE_STATUS, "label": "sdk\u200b", "error": f"refused {ESC}"}
    text = _render(print_table, f"tenant {LEGACY}", [row])
    text += _render(print_below, LEGACY, HOSTILE_STATUS)
    text += _render(say, f"token of tenant {LEGACY} revoked")
    # a line formatted with stored text and printed on the console directly: escaped all the same
    capsys.readouterr()
    output.console.print(f"tenant {LEGACY} enabled")
    output.say_error(f"no tenant named {LEGACY}")
    plain = "".join(capsys.readouterr())
    text += plain
    assert " ".join(plain.split()).count("[bold red]shop[/bold red]") == 2, plain
    assert not any(c in text for c in UNSAFE), repr(text)
    for shown in ("\\x1b[2J\\x1b]0;owned\\x07", "\\u202egpj.exe", "[bold red]shop[/bold red]", "sdk\\u200b"):
        assert shown in text.replace("\n", ""), (shown, text)
    assert "[link=http://evil.example]x[/link]" in text.replace("\n", "")


def test_csv_cells_from_outside_cannot_run_in_a_spreadsheet() -> None:
    out = io.StringIO()
    rows = [{"tenant": LEGACY, "currency": "+BRL", "delta": -12, "note": "@SUM(A1)", "ok": "BRL"}]
    print_csv(["tenant", "currency", "delta", "note", "ok"], rows, out=out)
    header, cells = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["tenant", "currency", "delta", "note", "ok"]
    assert cells[0].startswith("'=cmd|") and "\\x1b" in cells[0] and "\x1b" not in out.getvalue()
    assert cells[1:] == ["'+BRL", "-12", "'@SUM(A1)", "BRL"]  # a number ordersync computed stays a number


@pytest.fixture
def hostile(warehouse_url: str, tmp_path: Path) -> dict[str, str]:
    """A warehouse holding hostile text the way it could have got there: a tenant and a token label
    named before the rules, a status and a currency code landed before currency codes were checked."""
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        app.add_tenant("legacy", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        app.create_token("legacy", "sdk")
        app.wh.execute("UPDATE cdp.tenants SET tenant_name = ? WHERE tenant_name = 'legacy'", (LEGACY,))
        app.wh.execute("UPDATE cdp.api_tokens SET label = ?", (f"app{ESC}{RLO}",))
        tenant = app.tenants.get(LEGACY)
        body = push_event_json("A-1", status=HOSTILE_STATUS)
        answer = app.push_receiver().receive(tenant, json_items(b"[" + body + b"]"), idempotency_key=None, request=body)
        assert answer.body["landed"] == 1, answer.body
        app.wh.execute("UPDATE cdp.orders_landing SET currency_code = ?", ('=HYPERLINK("http://evil.example")',))
        app.revenue(as_of=datetime.now(UTC))  # seals the ledger: the batch is known from now on
    return {"ORDERSYNC_WAREHOUSE": warehouse_url}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = ordersync(args, cwd, env=env, clean_env=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_cli_prints_stored_text_inert(hostile: dict[str, str], tmp_path: Path) -> None:
    moment = datetime.now(UTC).isoformat()  # after the batch was sealed
    tenants = _run(["tenants", "list"], tmp_path, hostile)
    tokens = _run(["tokens", "list"], tmp_path, hostile)
    revenue = _run(["revenue", "--as-of", moment], tmp_path, hostile)
    for out in (tenants, tokens, revenue):
        assert not any(c in out for c in UNSAFE), repr(out)
        assert "\\x1b[2J" in out.replace("\n", "").replace(" ", ""), out
    assert "[boldred]shop[/boldred]" in tenants.replace("\n", "").replace(" ", "")  # markup shown, not read
    assert "app\\x1b[2J" in tokens.replace("\n", "").replace(" ", "")
    # CSV: the formula cells get their quote, the amounts stay numbers
    rows = list(csv.DictReader(io.StringIO(_run(["revenue", "--as-of", moment, "--csv"], tmp_path, hostile))))
    assert len(rows) == 1, rows
    assert rows[0]["currency"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[0]["tenant"].startswith("'=cmd|") and rows[0]["revenue"] == "129.90"
    # JSON keeps the text exactly, every such character escaped by JSON itself
    listed = _run(["tenants", "list", "--json"], tmp_path, hostile)
    assert "\x1b" not in listed and json.loads(listed)[0]["tenant_name"] == LEGACY


def test_new_names_follow_the_rule_and_old_ones_keep_working(warehouse_url: str, tmp_path: Path) -> None:
    env = {"ORDERSYNC_WAREHOUSE": warehouse_url}
    refused = ordersync(["tenants", "add", f"a/b{ESC}", "--platform", "push"], tmp_path, env=env, clean_env=True)
    assert refused.returncode == 2, refused.stdout
    assert "lowercase letters, digits, '-' and '_', 1-63 characters" in refused.stderr, refused.stderr
    assert "\x1b" not in refused.stderr
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        assert app.tenants.list() == []
        app.add_tenant("old", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        app.wh.execute("UPDATE cdp.tenants SET tenant_name = 'Old Shop/1'")  # named before the rule
    label = ordersync(["tokens", "create", "--tenant", "Old Shop/1", "--label", f"sdk{RLO}"], tmp_path, env=env)
    assert label.returncode == 2 and "bidi control character (\\u202e" in label.stderr, label.stderr
    made = json.loads(_run(["tokens", "create", "--tenant", "Old Shop/1", "--label", "sdk", "--json"], tmp_path, env))
    assert made["tenant"] == "Old Shop/1"
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        tenant = app.tenants.get("Old Shop/1")
        body = b"[" + push_event_json("A-9") + b"]"
        answer = app.push_receiver().receive(tenant, json_items(body), idempotency_key=None, request=body)
        assert answer.body["landed"] == 1, answer.body
        assert app.update_tenant("Old Shop/1", frequency_hours=2).sync_frequency_hours == 2
        assert [t.label for t in app.list_tokens("Old Shop/1")] == ["sdk"]
