"""The schema and SQL follow the rules of a warehouse sharded by tenant (Citus, docs/scaling.md),
checked on plain PostgreSQL from its catalogue and from the SQL text of the package:

1. every primary or unique key of a table holding tenant data includes tenant_id;
2. every join between such tables carries tenant_id (JOIN ... ON/USING, correlated subqueries,
   UPDATE ... FROM);
3. no VOLATILE function in an UPDATE or DELETE of such a table;
4. no correlated subquery on a dbt model's own table (`{{ this }}`).

The reference tables (copied to every node) and the coordinator's own tables are named below; a
new table holding no tenant_id must be added to one of them, and to docs/scaling.md. The SQL checks
read text, not a parse tree: they look for the shapes ordersync writes, and the tests at the end
show each one catching a breach.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import ordersync
from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, open_warehouse
from ordersync.warehouse.postgres import PostgresWarehouse

PACKAGE = Path(ordersync.__file__).parent
MODELS = PACKAGE / "transform" / "dbt" / "models"

#: Copied to every node: small, read with every tenant's rows, or keyed by something else than a tenant.
REFERENCE = frozenset({"tenants", "api_tokens", "web_sessions", "plans", "notice_deliveries"})
#: The coordinator's own bookkeeping, never joined with tenant data.
COORDINATOR = frozenset({"schema_migrations", "build_runs", "ledger_cursors", "identity_secret"})
NOT_DISTRIBUTED = REFERENCE | COORDINATOR

_STOP = re.compile(
    r"\b(?:join|left|right|full|inner|cross|where|group|order|union|having|limit|window|returning|on\s+conflict)\b"
)
_RELATION = re.compile(r"\b(?:from|join|update|into)\s+cdp\.(\w+)(?:\s+(?:as\s+)?(\w+))?")
_ALIAS_REF = re.compile(r"\b([a-z_]\w*)\.[a-z_]\w*")
_NOT_ALIASES = frozenset({"cdp", "excluded", "information_schema", "pg_catalog", "x0"})
_KEYWORDS = frozenset(
    {"on", "using", "where", "join", "left", "right", "full", "inner", "cross", "group", "order", "union"}
    | {"limit", "set", "select", "values"}
)


# -- reading the SQL --------------------------------------------------------------------------------


def normalize(sql: str, model: str | None = None) -> str:
    """Lower case, comments and Jinja gone: ref/source become cdp.<name>, `{{ this }}` the model's
    own table, other expressions the placeholder x0, format markers ({orders}) too."""
    s = re.sub(r"\{#.*?#\}", " ", sql, flags=re.S)
    s = re.sub(r"--[^\n]*", " ", s)
    s = re.sub(r"\{\{\s*this\s*\}\}", f"cdp.{model or 'this_model'}", s)
    s = re.sub(r"\{\{\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*\}\}", r"cdp.\1", s)
    s = re.sub(r"\{\{\s*source\(\s*['\"]\w+['\"]\s*,\s*['\"](\w+)['\"]\s*\)\s*\}\}", r"cdp.\1", s)
    s = re.sub(r"\{\{.*?\}\}", " x0 ", s, flags=re.S)
    s = re.sub(r"\{%.*?%\}", " ", s, flags=re.S)
    s = re.sub(r"\{\w*\}", " x0 ", s)
    return s.lower()


def _closing(s: str, start: int) -> int:
    """The index of the parenthesis closing the one at `start`."""
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "(":
            depth += 1
        elif s[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(s)


def _clause(s: str, start: int) -> str:
    """From `start` to the next keyword that ends a join condition, at the same depth."""
    depth, i = 0, start
    while i < len(s):
        c = s[i]
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (c == ";" or (_STOP.match(s, i) and not re.match(r"\w", s[i - 1 : i]))):
            break
        i += 1
    return s[start:i]


def _aliases(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _RELATION.finditer(s):
        table, alias = m.group(1), m.group(2)
        out[table] = table
        if alias and alias not in _KEYWORDS:
            out[alias] = table
    return out


def _exempt(table: str | None) -> bool:
    return table in NOT_DISTRIBUTED


def join_breaches(s: str) -> list[str]:
    """Rule 2 on normalized SQL: the joins that do not carry tenant_id."""
    out: list[str] = []
    aliases = _aliases(s)
    for m in re.finditer(r"\bjoin\s+", s):
        i = m.end()
        if s.startswith("(", i):
            relation, i = None, _closing(s, i) + 1
        else:
            word = re.match(r"[\w.]+", s[i:])
            if word is None:
                continue
            relation, i = word.group(0).removeprefix("cdp."), i + word.end()
        head = re.match(r"\s+(?:as\s+)?(?!on\b|using\b)(\w+)", s[i:])
        if head is not None:
            i += head.end()
        cond = re.match(r"\s+(on|using)\b", s[i:])
        if cond is None:
            continue  # a cross join or a lateral function: nothing joined on a key
        text = _clause(s, i + cond.end())
        if "tenant_id" in text or _exempt(relation):
            continue
        if any(_exempt(aliases.get(a)) for a in _ALIAS_REF.findall(text)):
            continue
        out.append(f"join {relation or '(subquery)'} on{text}".strip())
    for m in re.finditer(r"\bupdate\s+cdp\.(\w+)", s):
        body = s[m.end() : _statement_end(s, m.end())]
        joined = re.search(r"\bfrom\s+", body)
        if joined is None or _exempt(m.group(1)):
            continue
        rest = body[joined.end() :]
        if rest.startswith("("):
            rest = rest[_closing(rest, 0) + 1 :]
        where = re.search(r"\bwhere\b", rest)
        after = rest[where.end() :] if where else ""
        if "tenant_id" not in after:
            out.append(f"update cdp.{m.group(1)} ... from ... where{after}".strip())
    return out


def _names(s: str) -> set[str]:
    """Every name a query gives a relation: tables, CTEs, subqueries and their aliases."""
    names = set(re.findall(r"\b(?:from|join)\s+(?:cdp\.)?(\w+)", s))
    names |= set(re.findall(r"\b(?:from|join)\s+[\w.]+\s+(?:as\s+)?(\w+)", s))
    names |= set(re.findall(r"\)\s+(?:as\s+)?(\w+)", s))
    return names


def correlated_subqueries(s: str) -> Iterator[tuple[set[str], set[str], str]]:
    """Each subquery referring to aliases outside it: (its tables, those outer aliases, its text)."""
    for m in re.finditer(r"\(\s*select\b", s):
        block = s[m.start() : _closing(s, m.start()) + 1]
        own = _aliases(block)
        named = _names(block)
        outer = {a for a in _ALIAS_REF.findall(block) if a not in named and a not in _NOT_ALIASES}
        if outer:
            yield set(own.values()), outer, block


def correlation_breaches(s: str) -> list[str]:
    """Rule 2 for correlated subqueries: each outer alias is matched on its tenant_id."""
    out: list[str] = []
    for tables, outer, block in correlated_subqueries(s):
        if tables and all(_exempt(t) for t in tables):
            continue
        missing = sorted(a for a in outer if f"{a}.tenant_id" not in block)
        if missing:
            out.append(f"{block} (not matched on tenant_id: {', '.join(missing)})")
    return out


def _statement_end(s: str, start: int) -> int:
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "(":
            depth += 1
        elif s[i] == ")":
            depth -= 1
            if depth < 0:
                return i
        elif s[i] == ";" and depth == 0:
            return i
    return len(s)


def volatile_breaches(s: str, volatile: set[str]) -> list[str]:
    """Rule 3: UPDATE or DELETE of a distributed table calling a VOLATILE function."""
    out: list[str] = []
    for m in re.finditer(r"\b(?:update|delete\s+from)\s+cdp\.(\w+)", s):
        if _exempt(m.group(1)):
            continue
        body = s[m.start() : _statement_end(s, m.end())]
        called = {f for f in re.findall(r"\b([a-z_]\w*)\s*\(", body) if f in volatile}
        if called:
            out.append(f"{m.group(0)}: {', '.join(sorted(called))}")
    return out


def _render(node: ast.JoinedStr) -> str:
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            expr = ast.unparse(value.value)
            # the warehouse's clock goes into lease SQL as text: check the one PostgreSQL runs
            parts.append(PostgresWarehouse.now_sql if expr.endswith("now_sql") else "x1")
    return "".join(parts)


def python_sql(path: Path) -> Iterator[str]:
    """The SQL string literals (f-strings rendered) of a Python module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = _render(node)
        else:
            continue
        if re.search(r"\b(select|update|delete|insert)\b", text, re.I) and "cdp." in text:
            yield text


def sql_texts() -> Iterator[tuple[str, str, str | None]]:
    """(where, normalized SQL, model name) for every SQL file and SQL literal of the package."""
    for path in sorted(PACKAGE.rglob("*.sql")):
        model = path.stem if MODELS in path.parents else None
        yield str(path.relative_to(PACKAGE)), normalize(path.read_text(encoding="utf-8"), model), model
    for path in sorted(PACKAGE.rglob("*.py")):
        if "simulator" in path.parts:
            continue
        for text in python_sql(path):
            yield str(path.relative_to(PACKAGE)), normalize(text), None


# -- the rules --------------------------------------------------------------------------------------


@pytest.fixture
def pg(pg_url: str) -> Iterator[Warehouse]:
    """A migrated PostgreSQL warehouse."""
    wh = open_warehouse(WarehouseSettings(url=pg_url))
    try:
        yield wh
    finally:
        wh.close()


def _tenant_tables(wh: Warehouse) -> set[str]:
    rows = wh.query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'cdp' AND column_name = 'tenant_id'"
    )
    return {r[0] for r in rows}


@pytest.mark.postgres
def test_every_table_is_distributed_reference_or_the_coordinators(pg: Warehouse) -> None:
    tables = {r[0] for r in pg.query("SELECT tablename FROM pg_tables WHERE schemaname = 'cdp'")}
    tenant = _tenant_tables(pg)
    unplaced = sorted(tables - tenant - NOT_DISTRIBUTED)
    assert not unplaced, f"tables with no tenant_id, neither reference nor coordinator tables: {unplaced}"
    assert tables >= NOT_DISTRIBUTED, sorted(NOT_DISTRIBUTED - tables)


@pytest.mark.postgres
def test_every_key_of_a_distributed_table_includes_tenant_id(pg: Warehouse) -> None:
    rows = pg.query(
        "SELECT t.relname, i.relname, coalesce(con.contype, 'i'), "
        "  (SELECT coalesce(bool_or(a.attname = 'tenant_id'), false) FROM pg_attribute a "
        "   WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)) "
        "FROM pg_index x "
        "JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.contype IN ('p', 'u') "
        "WHERE n.nspname = 'cdp' AND x.indisunique"
    )
    tenant = _tenant_tables(pg) - NOT_DISTRIBUTED
    checked = {table for table, *_ in rows if table in tenant}
    assert {"landing_batches", "sync_runs", "quarantine", "hook_inbox", "discrepancies"} <= checked
    breaches = sorted(
        f"cdp.{table}: {kind} {index}" for table, index, kind, has_tenant in rows if table in tenant and not has_tenant
    )
    assert not breaches, f"keys without tenant_id: {breaches}"


def test_the_same_keys_on_duckdb(tmp_path: Path, duckdb_template: Path) -> None:
    """The same keys on DuckDB (rebuilt tables there), so ON CONFLICT targets agree."""
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, path)
    wh = open_warehouse(WarehouseSettings(url=str(path)))
    try:
        rows = wh.query(
            "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = 'cdp' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        )
        tenant = {
            r[0]
            for r in wh.query(
                "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'cdp' AND column_name = 'tenant_id'"
            )
        }
        unique = wh.query(
            "SELECT table_name, index_name, sql FROM duckdb_indexes() WHERE schema_name = 'cdp' AND is_unique"
        )
    finally:
        wh.close()
    tenant -= NOT_DISTRIBUTED
    breaches = [f"cdp.{t}: {kind} {cols}" for t, kind, cols in rows if t in tenant and "tenant_id" not in cols]
    breaches += [f"cdp.{t}: {name}" for t, name, sql in unique if t in tenant and "tenant_id" not in sql]
    assert not breaches, f"keys without tenant_id: {breaches}"


def test_unique_indexes_created_by_the_models_include_tenant_id() -> None:
    breaches = []
    for where, sql, _ in sql_texts():
        for m in re.finditer(r"create\s+unique\s+index\b[^;(]*?\bon\s+([\w.]+)\s*\(([^)]*)\)", sql):
            if "tenant_id" not in m.group(2) and not _exempt(m.group(1).removeprefix("cdp.")):
                breaches.append(f"{where}: {m.group(0)}")
    assert not breaches, breaches


def test_every_join_carries_tenant_id() -> None:
    breaches = [
        f"{where}: {b}" for where, sql, _ in sql_texts() for b in join_breaches(sql) + correlation_breaches(sql)
    ]
    assert not breaches, "\n".join(breaches)


@pytest.mark.postgres
def test_no_volatile_function_in_update_or_delete(pg: Warehouse) -> None:
    volatile = {
        r[0]
        for r in pg.query(
            "SELECT DISTINCT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'pg_catalog' AND p.provolatile = 'v'"
        )
    }
    assert {"clock_timestamp", "random", "nextval"} <= volatile
    breaches = [f"{where}: {b}" for where, sql, _ in sql_texts() for b in volatile_breaches(sql, volatile)]
    assert not breaches, breaches


def test_no_model_runs_a_correlated_subquery_on_its_own_table() -> None:
    breaches = [
        f"{where}: {block}"
        for where, sql, model in sql_texts()
        if model is not None
        for tables, _, block in correlated_subqueries(sql)
        if model in tables
    ]
    assert not breaches, breaches


# -- the checks catch what they are for -------------------------------------------------------------

LANDED = "select 1 from cdp.orders_landing as l "


def test_a_join_on_batch_id_alone_is_caught() -> None:
    bad = normalize(LANDED + "LEFT JOIN cdp.landing_batches AS b ON b.batch_id = l.batch_id")
    assert join_breaches(bad) == ["join landing_batches on b.batch_id = l.batch_id"]
    good = bad.replace("on b.batch_id", "on b.tenant_id = l.tenant_id and b.batch_id")
    assert join_breaches(good) == []
    subquery = LANDED + "join (select landing_id from cdp.orders_landing) as w on w.landing_id = l.landing_id"
    assert join_breaches(normalize(subquery)) == ["join (subquery) on w.landing_id = l.landing_id"]
    # a join with a reference table needs no tenant key of its own
    reference = "select 1 from cdp.revision_notices n join cdp.notice_deliveries d on d.notice_id = n.notice_id"
    assert join_breaches(normalize(reference)) == []


def test_an_update_joined_on_batch_id_alone_is_caught() -> None:
    update = (
        "UPDATE cdp.landing_batches AS b SET seq = u.seq FROM (SELECT batch_id FROM cdp.landing_batches) AS u "
        "WHERE b.batch_id = u.batch_id"
    )
    assert join_breaches(normalize(update)) == ["update cdp.landing_batches ... from ... where b.batch_id = u.batch_id"]
    assert join_breaches(normalize(update + " AND b.tenant_id = u.tenant_id")) == []


def test_a_correlated_subquery_without_tenant_id_is_caught() -> None:
    bad = normalize(
        "select (select b.committed_at from cdp.landing_batches b where b.batch_id = l.batch_id) "
        "from cdp.orders_landing l"
    )
    assert len(correlation_breaches(bad)) == 1
    good = bad.replace("where b.batch_id", "where b.tenant_id = l.tenant_id and b.batch_id")
    assert correlation_breaches(good) == []


def test_a_volatile_function_in_an_update_is_caught() -> None:
    sql = normalize("UPDATE cdp.leases SET lease_until = clock_timestamp() WHERE tenant_id = ?")
    assert volatile_breaches(sql, {"clock_timestamp"}) == ["update cdp.leases: clock_timestamp"]
    assert volatile_breaches(sql.replace("clock_", "statement_"), {"clock_timestamp"}) == []
    assert volatile_breaches(normalize("UPDATE cdp.build_runs SET x = random()"), {"random"}) == []


def test_a_correlated_subquery_on_this_is_caught() -> None:
    sql = normalize(
        "select case when exists (select 1 from {{ this }} as t where t.tenant_id = k.tenant_id) then 0 end "
        "from keys as k",
        "revenue_daily",
    )
    assert [tables for tables, _, _ in correlated_subqueries(sql)] == [{"revenue_daily"}]
