"""dbt builds exactly the database ordersync lands into, for every URL form psycopg accepts.

For each form, ordersync's own connection (psycopg 3) and a connection opened the way dbt-postgres
opens one from the generated target (psycopg2, dbt's credentials class and keyword arguments) must
land in the same database, port and user.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import psycopg2
import pytest
from dbt.adapters.postgres.connections import PostgresCredentials
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ordersync.errors import ConfigError
from ordersync.warehouse.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres

_WHERE = "SELECT current_database(), inet_server_port(), current_user, current_setting('application_name')"


def _dbt_connect(target: dict[str, Any]) -> Any:
    """psycopg2.connect exactly as dbt-postgres's PostgresConnectionManager.open() calls it."""
    fields = {k: v for k, v in target.items() if k not in ("type", "threads")}
    creds = PostgresCredentials.from_dict(PostgresCredentials.translate_aliases(fields))
    kwargs: dict[str, Any] = {}
    if creds.keepalives_idle:
        kwargs["keepalives_idle"] = creds.keepalives_idle
    if creds.search_path:
        kwargs["options"] = "-c search_path={}".format(creds.search_path.replace(" ", "\\ "))
    for key in ("sslmode", "sslcert", "sslkey", "sslrootcert"):
        if getattr(creds, key) is not None:
            kwargs[key] = getattr(creds, key)
    if creds.application_name:
        kwargs["application_name"] = creds.application_name
    return psycopg2.connect(
        dbname=creds.database,
        user=creds.user,
        host=creds.host,
        password=creds.password,
        port=creds.port,
        connect_timeout=creds.connect_timeout,
        **kwargs,
    )


def _both_reach_the_same(url: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
    wh = PostgresWarehouse(url)
    try:
        ours = wh.query_one(_WHERE)
        target = wh.dbt_target()
    finally:
        wh.close()
    con = _dbt_connect(target)
    try:
        with con.cursor() as cur:
            cur.execute(_WHERE)
            theirs = cur.fetchone()
    finally:
        con.close()
    assert ours is not None and theirs is not None
    assert ours[:3] == theirs[:3]
    return target, ours


@pytest.fixture
def server(pg_server_url: str) -> dict[str, str]:
    """host, port and dbname of the session's test database."""
    params = conninfo_to_dict(pg_server_url)
    return {
        "host": str(params.get("host", "127.0.0.1")),
        "port": str(params.get("port", "5432")),
        "dbname": str(params["dbname"]),
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)
    return monkeypatch


URL_FORMS: dict[str, Callable[[dict[str, str]], str]] = {
    "query parameters": lambda s: (
        f"postgresql://postgres@{s['host']}:{s['port']}/{s['dbname']}?sslmode=disable&application_name=os_t"
    ),
    "postgres scheme": lambda s: f"postgres://postgres@{s['host']}:{s['port']}/{s['dbname']}",
    "key=value": lambda s: (
        f"host={s['host']} port={s['port']} user=postgres dbname={s['dbname']} connect_timeout=5 keepalives_idle=30"
    ),
    "host in the query": lambda s: f"postgresql:///{s['dbname']}?host={s['host']}&port={s['port']}&user=postgres",
    "search_path option": lambda s: (
        f"postgresql://postgres@{s['host']}:{s['port']}/{s['dbname']}?options=-c%20search_path%3Dcdp,public"
    ),
}


@pytest.mark.parametrize("form", list(URL_FORMS))
def test_every_url_form_reaches_the_same_database(server: dict[str, str], clean_env: Any, form: str) -> None:
    target, (dbname, _, user, _) = _both_reach_the_same(URL_FORMS[form](server))
    assert (dbname, user) == (server["dbname"], "postgres")
    params = conninfo_to_dict(URL_FORMS[form](server))
    for key in ("sslmode", "application_name"):
        if key in params:
            assert target[key] == params[key]
    if form == "key=value":
        assert (target["connect_timeout"], target["keepalives_idle"]) == (5, 30)
    if form == "search_path option":
        assert target["search_path"] == "cdp,public"


def test_a_unix_socket_in_the_query_string(server: dict[str, str], clean_env: Any) -> None:
    socket_dir = "/var/run/postgresql"
    if server["host"] not in ("127.0.0.1", "localhost") or not Path(socket_dir, f".s.PGSQL.{server['port']}").exists():
        pytest.skip("the test server has no local socket")
    url = f"postgresql:///{server['dbname']}?host={socket_dir}&port={server['port']}&user=postgres"
    target, (dbname, port, _, _) = _both_reach_the_same(url)
    assert target["host"] == socket_dir
    assert dbname == server["dbname"] and port is None  # a socket: no TCP port


def test_a_missing_dbname_is_libpqs_default_the_user_name(server: dict[str, str], clean_env: Any) -> None:
    target, (dbname, _, _, _) = _both_reach_the_same(f"postgresql://postgres@{server['host']}:{server['port']}")
    assert dbname == target["dbname"] == "postgres"


def test_a_missing_user_and_database_come_from_the_environment(
    server: dict[str, str], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("PGUSER", "postgres")
    clean_env.setenv("PGDATABASE", server["dbname"])
    clean_env.setenv("PGHOST", server["host"])
    clean_env.setenv("PGPORT", server["port"])
    target, (dbname, _, user, _) = _both_reach_the_same("postgresql://")
    assert (dbname, user) == (server["dbname"], "postgres")
    assert (target["host"], str(target["port"])) == (server["host"], server["port"])


@pytest.fixture
def odd_role(pg_server_url: str) -> Iterator[tuple[str, str]]:
    """A login role of its own whose password holds @, :, %, / and a space (the server's trust
    authentication ignores it: the parsing is what is tested)."""
    name = f"ordersync_pw_{uuid.uuid4().hex[:10]}"
    password = f"p@ss:w%rd/{uuid.uuid4().hex[:4]} x'y"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
    try:
        yield name, password
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
            con.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_a_password_with_special_characters_in_both_forms(
    server: dict[str, str], odd_role: tuple[str, str], clean_env: Any
) -> None:
    role, password = odd_role
    url = f"postgresql://{role}:{quote(password, safe='')}@{server['host']}:{server['port']}/{server['dbname']}"
    keyvalue = make_conninfo(
        host=server["host"], port=server["port"], user=role, password=password, dbname=server["dbname"]
    )
    for form in (url, keyvalue):
        target, (_, _, user, _) = _both_reach_the_same(form)
        assert user == role
        assert target["password"] == password
        wh = PostgresWarehouse(form)
        try:
            shown = wh.display_url
        finally:
            wh.close()
        assert password not in shown and quote(password, safe="") not in shown
        assert "password=***" in shown and role in shown


def test_a_password_from_the_environment_goes_to_dbt(
    server: dict[str, str], odd_role: tuple[str, str], clean_env: pytest.MonkeyPatch
) -> None:
    role, password = odd_role
    clean_env.setenv("PGPASSWORD", password)
    target, (_, _, user, _) = _both_reach_the_same(
        f"postgresql://{role}@{server['host']}:{server['port']}/{server['dbname']}"
    )
    assert user == role and target["password"] == password


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("target_session_attrs=read-write", "target_session_attrs"),
        ("options=-c%20statement_timeout%3D5s", "options"),
        ("sslcrl=/nonexistent.crl&sslmode=disable", "sslcrl"),
    ],
)
def test_a_parameter_dbt_cannot_pass_on_is_refused(
    server: dict[str, str], clean_env: Any, query: str, named: str
) -> None:
    wh = PostgresWarehouse(f"postgresql://postgres@{server['host']}:{server['port']}/{server['dbname']}?{query}")
    try:
        assert wh.scalar("SELECT 1") == 1  # ordersync itself can use the URL
        with pytest.raises(ConfigError, match=rf"sets {named}.*dbt-postgres cannot pass on"):
            wh.dbt_target()
    finally:
        wh.close()


def test_an_invalid_url_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL") as caught:
        PostgresWarehouse("postgresql://u:topsecret@h/db?sslmod=disable")
    assert "topsecret" not in str(caught.value)
    assert 'invalid URI query parameter: "sslmod"' in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        PostgresWarehouse("host=h password=top secret")
    assert "top" not in str(caught.value).replace("postgresql://", "")


def test_display_url_without_a_password_is_the_url() -> None:
    from ordersync.warehouse.postgres import mask_conninfo

    assert mask_conninfo("postgresql://postgres@127.0.0.1:5432/x") == "postgresql://postgres@127.0.0.1:5432/x"
    masked = mask_conninfo("postgresql://u:s3cr%40t@h:5432/x?password=other&sslmode=disable")
    assert "s3cr" not in masked and "other" not in masked and "sslmode=disable" in masked
