"""`?` placeholders and statement splitting by sqlparse's lexer: literals, quoted names, comments and
`$$` bodies keep their `?`, `%` and `;`."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.warehouse import Warehouse
from ordersync.warehouse.sqltext import split_statements, to_pyformat
from support.properties import examples


def test_placeholders_become_pyformat_and_percent_signs_are_doubled() -> None:
    sql = "SELECT '?', 'a%b', \"q?\", x % 2 FROM t WHERE a = ? AND b LIKE '%?%' AND c = ? -- why?"
    assert to_pyformat(sql) == (
        "SELECT '?', 'a%%b', \"q?\", x %% 2 FROM t WHERE a = %s AND b LIKE '%%?%%' AND c = %s -- why?"
    )
    assert to_pyformat("SELECT $$ ? % $$, $tag$ ? $tag$, ?") == "SELECT $$ ? %% $$, $tag$ ? $tag$, %s"
    assert to_pyformat("SELECT ?::int, x = ANY(?), CAST(? AS TEXT[])") == (
        "SELECT %s::int, x = ANY(%s), CAST(%s AS TEXT[])"
    )


_literal_text = st.text(alphabet=string.ascii_letters + "?%;$ ", max_size=12)


@settings(max_examples=examples(100))
@given(st.lists(_literal_text, min_size=1, max_size=4))
def test_literals_come_back_unchanged_but_for_doubled_percent_signs(literals: list[str]) -> None:
    quoted = [("'" + s.replace("'", "''") + "'") for s in literals]
    sql = "SELECT " + ", ".join(f"{q}, ?" for q in quoted)
    expected = "SELECT " + ", ".join(f"{q.replace('%', '%%')}, %s" for q in quoted)
    assert to_pyformat(sql) == expected


def test_placeholders_and_percent_inside_literals_run_on_both_backends(warehouse: Warehouse) -> None:
    row = warehouse.query_one("SELECT '?', 'a%b', ?, '100%', ? || '?'", ("x", "y"))
    assert row == ("?", "a%b", "x", "100%", "y?")
    # no parameters: the text goes as written (psycopg reads % only when there are parameters)
    assert warehouse.scalar("SELECT 'a%b' || '?'") == "a%b?"
    assert warehouse.query_dicts("SELECT 5 % 3 AS m, ? AS p", (1,)) == [{"m": 2, "p": 1}]


def test_split_keeps_semicolons_inside_literals_bodies_and_comments() -> None:
    script = """-- header; with a semicolon
CREATE TABLE cdp.t (x TEXT DEFAULT ';', y TEXT); -- trailing; comment
/* block ; comment */
INSERT INTO cdp.t VALUES ('it''s; fine', $$a;b$$);
-- only a comment;
;
INSERT INTO cdp.t (x) VALUES ('last')
"""
    statements = split_statements(script)
    assert len(statements) == 3
    assert "DEFAULT ';'" in statements[0]
    assert "'it''s; fine', $$a;b$$" in statements[1]
    assert statements[2].endswith("('last')")


def test_a_script_with_semicolons_in_literals_runs_on_both_backends(warehouse: Warehouse) -> None:
    warehouse.run_script(
        """
-- a migration whose literals hold the statement separator
CREATE TABLE cdp.notes (k TEXT, v TEXT DEFAULT 'a;b');
INSERT INTO cdp.notes (k) VALUES ('one;');
INSERT INTO cdp.notes VALUES ('two', 'x;
y');  -- a literal spanning lines, ending a line with ;
INSERT INTO cdp.notes VALUES ('three', $$dollar; quoted$$);
"""
    )
    assert warehouse.query("SELECT k, v FROM cdp.notes ORDER BY k") == [
        ("one;", "a;b"),
        ("three", "dollar; quoted"),
        ("two", "x;\ny"),
    ]


@pytest.mark.postgres
def test_a_plpgsql_body_runs_as_one_statement(pg_empty_url: str) -> None:
    from ordersync.config import WarehouseSettings
    from ordersync.warehouse import open_warehouse

    wh = open_warehouse(WarehouseSettings(url=pg_empty_url))
    try:
        wh.run_script(
            """
CREATE SCHEMA cdp;
CREATE FUNCTION cdp.twice(x INTEGER) RETURNS INTEGER AS $$
BEGIN
    RETURN x * 2;  -- a ; inside the body
END;
$$ LANGUAGE plpgsql;
"""
        )
        assert wh.scalar("SELECT cdp.twice(?)", (21,)) == 42
    finally:
        wh.close()
