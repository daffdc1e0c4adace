"""A served app for the JSON API's tests: two push tenants with a token of every kind, and every
JSON answer checked against its schema in the app's own /openapi.json."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from openapi_schema_validator import OAS31Validator

from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.tenants.tokens import Scope
from support.sim import settings_for

#: the kinds of caller every endpoint is tried with
KINDS = ("none", "push", "metrics", "revoked", "read", "read_other", "admin")


@dataclass
class ApiServed:
    url: str
    tokens: dict[str, str]
    settings_url: str
    tmp: Path
    spec: dict[str, Any] = field(default_factory=dict)
    #: the running Serve (its gate: the lock pushes, builds and worker ticks hold)
    serve: Any = None
    #: one keep-alive client for the module's requests, every JSON answer checked against the spec
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client (of its own cookies) whose every JSON answer is checked against /openapi.json."""

        def check(r: httpx.Response) -> None:
            r.read()
            conforms(self.spec, r.request.method.lower(), r.request.url.path, r)

        return httpx.Client(timeout=60, event_hooks={"response": [check]}, **kwargs)

    def app(self) -> Ordersync:
        return Ordersync(settings_for(self.settings_url, self.tmp))

    def headers(self, kind: str) -> dict[str, str]:
        return {} if kind == "none" else {"Authorization": f"Bearer {self.tokens[kind]}"}

    def get(self, path: str, kind: str = "admin", **params: Any) -> httpx.Response:
        # params only when given: httpx would drop a query written in the path
        return self.http.get(f"{self.url}{path}", headers=self.headers(kind), params=params or None)

    def post(self, path: str, kind: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(kind), **kwargs.pop("headers", {})}
        return self.http.post(f"{self.url}{path}", headers=headers, **kwargs)


def module_warehouse(backend: str, folder: Path, duckdb_template: Path | None, pg: tuple[str, str] | None) -> str:
    """A migrated warehouse for one module: a copy of the session's template."""
    if backend == "duckdb":
        assert duckdb_template is not None
        shutil.copyfile(duckdb_template, folder / "wh.duckdb")
        return str(folder / "wh.duckdb")
    assert pg is not None
    server_url, template = pg
    name = f"ordersync_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{server_url.rpartition('/')[0]}/{name}"


def drop_pg(url: str, server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def make_tokens(app: Ordersync) -> dict[str, str]:
    """Two push tenants, `app` and `other`, and a token of every kind (`revoked` was app's read token)."""
    for name in ("app", "other"):
        app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    made = {
        "push": app.create_token("app", "phone")[1],
        "read": app.create_token("app", "analyst", scope=Scope.READ)[1],
        "read_other": app.create_token("other", "their analyst", scope=Scope.READ)[1],
        "admin": app.create_token(None, "reviewer", scope=Scope.ADMIN)[1],
        "metrics": app.create_token(None, None, scope=Scope.METRICS)[1],
    }
    revoked_id, made["revoked"] = app.create_token("app", "gone", scope=Scope.READ)
    app.revoke_token(revoked_id)
    return made


@contextmanager
def api_served(url: str, tmp: Path, prepare: Any = None) -> Iterator[ApiServed]:
    setup = Ordersync(settings_for(url, tmp))
    try:
        tokens = make_tokens(setup)
        if prepare is not None:
            prepare(setup)
    finally:
        setup.close()
    app = Ordersync(settings_for(url, tmp))
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
    with serving_in_thread(app, options) as (base, serve):
        served = ApiServed(base, tokens, url, tmp, serve=serve)
        served.spec = served.http.get(f"{base}/openapi.json").json()
        served.http.close()
        served.http = served.client()
        try:
            yield served
        finally:
            served.http.close()


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation of the spec's path template that `path` fills."""
    parts = path.split("?")[0].strip("/").split("/")
    for template, ops in spec["paths"].items():
        names = template.strip("/").split("/")
        fills = len(names) == len(parts) and all(n == p or n.startswith("{") for n, p in zip(names, parts, strict=True))
        if fills and method in ops:
            return dict(ops[method])
    raise AssertionError(f"{method.upper()} {path} is not in /openapi.json")


def conforms(spec: dict[str, Any], method: str, path: str, r: httpx.Response) -> None:
    """A JSON answer validates against the schema /openapi.json gives for its path and status."""
    if not spec or "application/json" not in r.headers.get("content-type", ""):
        return
    responses = _operation(spec, method, path)["responses"]
    documented = responses.get(str(r.status_code))
    assert documented is not None, f"{method.upper()} {path} answered {r.status_code}, which it does not document"
    schema = documented["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec.get("components", {})}).validate(r.json())


@contextmanager
def module_served(request: Any, tmp_path_factory: Any, name: str, prepare: Any = None) -> Iterator[ApiServed]:
    """A module's served app on the backend `request.param` names (a copy of the session's template
    warehouse in a folder `name`), prepared by `prepare`; its PostgreSQL database dropped after it."""
    folder = tmp_path_factory.mktemp(name)
    if request.param == "duckdb":
        url = module_warehouse("duckdb", folder, request.getfixturevalue("duckdb_template"), None)
        with api_served(url, folder, prepare) as s:
            yield s
        return
    pg = (str(request.getfixturevalue("pg_server_url")), str(request.getfixturevalue("pg_template")))
    url = module_warehouse("postgres", folder, None, pg)
    try:
        with api_served(url, folder, prepare) as s:
            yield s
    finally:
        drop_pg(url, pg[0])
