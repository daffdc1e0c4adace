"""Browser sessions over real HTTP: login by token into a cookie, its flags, CSRF on actions, the
session ending at logout and when its token is revoked; and cursors walking lists while rows land."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from factories import push_event
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.sync import runs
from ordersync.tenants.tokens import Scope
from ordersync.web.auth import SESSION_COOKIE
from web.apiserve import ApiServed, module_served

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServed]:
    with module_served(request, tmp_path_factory, "api-session") as s:
        yield s


def login(s: ApiServed, token: str, **extra: str) -> httpx.Response:
    headers = extra.pop("headers", None) or {}
    return s.http.post(f"{s.url}/login", data={"token": token, **extra}, headers=headers)


def browser(s: ApiServed, token: str) -> tuple[httpx.Client, str]:
    """A client holding a session cookie, and the session's CSRF token."""
    r = login(s, token)
    assert r.status_code == 200, r.text
    client = s.client(base_url=s.url, cookies={SESSION_COOKIE: r.cookies[SESSION_COOKIE]})
    return client, r.json()["csrf"]


def new_token(s: ApiServed, tenant: str | None, scope: Scope, label: str = "someone") -> tuple[str, str]:
    with s.app() as app:
        return app.create_token(tenant, label, scope=scope)


def new_plan(s: ApiServed, plan_id: str) -> None:
    with s.app() as app:
        scope = {"tenant_ids": [app.get_tenant("app").tenant_id], "tenants": ["app"], "from": "2026-11-01"}
        plan = Plan(plan_id, "restate", DRAFTED, "author", datetime.now(UTC), scope, {"orders": []}, "")
        PlanStore(app.wh).save(plan, [])


def test_login_sets_a_strict_httponly_cookie_secure_over_https(served: ApiServed) -> None:
    r = login(served, served.tokens["read"])
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read" and r.json()["csrf"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http
    # behind a proxy that terminates TLS (uvicorn takes X-Forwarded-Proto from 127.0.0.1)
    https = login(served, served.tokens["read"], headers={"X-Forwarded-Proto": "https"})
    assert "secure" in https.headers["set-cookie"].lower()
    client, _ = browser(served, served.tokens["read"])
    with client:
        seen = client.get("/v1/tenants")
        assert [t["tenant"] for t in seen.json()["data"]] == ["app"]  # the read token's tenant only
        assert client.get("/v1/tenants/other/runs").status_code == 404


def test_login_refuses_tokens_that_cannot_read_and_bad_forms(served: ApiServed) -> None:
    for kind, status in (("push", 403), ("metrics", 403), ("revoked", 401)):
        assert login(served, served.tokens[kind]).status_code == status
    assert login(served, "ost_nonsense").status_code == 401
    assert served.http.post(f"{served.url}/login", data={}).status_code == 401
    big = served.http.post(f"{served.url}/login", data={"token": "x" * 20_000})
    assert big.status_code == 413


def test_login_goes_on_to_a_path_of_this_site_only(served: ApiServed) -> None:
    r = login(served, served.tokens["read"], next="/v1/tenants")
    assert (r.status_code, r.headers["location"]) == (303, "/v1/tenants")
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert login(served, served.tokens["read"], next=elsewhere).status_code == 200  # no redirect


def test_a_session_action_needs_its_csrf_token(served: ApiServed) -> None:
    for plan_id in ("p-csrf-1", "p-csrf-2"):
        new_plan(served, plan_id)
    client, csrf = browser(served, served.tokens["admin"])
    _, other_csrf = browser(served, served.tokens["admin"])
    with client:
        assert client.post("/v1/plans/p-csrf-1/approve").status_code == 403  # missing
        assert client.post("/v1/plans/p-csrf-1/approve", headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert client.post("/v1/plans/p-csrf-1/approve", headers={"X-CSRF-Token": other_csrf}).status_code == 403
        assert client.post("/v1/plans/p-csrf-1/approve", data={"csrf": "forged"}).status_code == 403
        padded = {"csrf": csrf, "pad": "x" * 20_000}  # a form too large to be one is never parsed
        assert client.post("/v1/plans/p-csrf-1/approve", data=padded).status_code == 403
        with served.app() as app:
            assert app.get_plan("p-csrf-1").status == DRAFTED  # nothing refused changed anything
        ok = client.post("/v1/plans/p-csrf-1/approve", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json()["reviewed_by"] == "reviewer"
        rejected = client.post("/v1/plans/p-csrf-2/reject", data={"csrf": csrf})  # as a page's form sends it
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_a_session_ends_at_logout_and_when_its_token_is_revoked(served: ApiServed) -> None:
    client, csrf = browser(served, served.tokens["read"])
    with client:
        assert client.get("/v1/session").status_code == 200
        assert client.post("/logout").status_code == 403  # a forged logout is refused too
        assert client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert client.get("/v1/tenants").status_code == 401
    token_id, token = new_token(served, "app", Scope.READ)
    client, _ = browser(served, token)
    with client:
        assert client.get("/v1/tenants").status_code == 200
        with served.app() as app:
            app.revoke_token(token_id)
        gone = client.get("/v1/tenants")
        assert gone.status_code == 401 and "log in again" in gone.json()["detail"]


def test_a_session_made_by_another_process_is_known(served: ApiServed) -> None:
    """Sessions live in the warehouse: one opened on another connection (another serve) is honoured."""
    token_id, _ = new_token(served, None, Scope.ADMIN, "elsewhere")
    with served.app() as app:
        session_id = app.open_session(token_id)
    with served.client(cookies={SESSION_COOKIE: session_id}) as client:
        r = client.get(f"{served.url}/v1/session")
    assert r.status_code == 200 and r.json()["label"] == "elsewhere"


def test_reads_never_wait_for_the_lock_of_pushes_builds_and_ticks(served: ApiServed) -> None:
    """While the serve's lock is held (a worker tick, a forwarded command; DuckDB's one writer) every
    read still answers: reads have connections of their own."""
    gate = served.serve.gate
    assert gate.lock.acquire(timeout=60)
    try:
        for path in ("/v1/tenants", "/v1/tenants/app/runs", "/v1/tenants/app/quarantine", "/v1/plans"):
            r = served.http.get(f"{served.url}{path}", headers=served.headers("admin"))
            assert r.status_code == 200, (path, r.text)
    finally:
        gate.lock.release()


def _walk(s: ApiServed, path: str, key: str, between: object) -> list[object]:
    seen: list[object] = []
    cursor = None
    while True:
        page = s.get(path, limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [item[key] for item in page["data"]]
        if page["next"] is None:
            return seen
        cursor = page["next"]
        between()  # type: ignore[operator]


def test_cursors_walk_a_list_while_rows_are_added(served: ApiServed) -> None:
    with served.app() as app:
        tid = app.get_tenant("other").tenant_id
        start = datetime(2026, 11, 1, tzinfo=UTC)
        for i in range(7):  # two runs share a start: the wall-clock start and the id order them
            runs.start(app.wh, f"walk-{i}", tid, "incremental", start + timedelta(hours=min(i, 5)), None)
        app.land_records("other", [orjson.dumps(push_event(f"q-{i}")) for i in range(5)])
        before_runs = [r["run_id"] for r in app.recent_runs("other")]
        before_held = [q["quarantine_id"] for q in app.quarantine_list("other")]
    added = iter(range(100))

    def add_run() -> None:
        with served.app() as app:
            n = next(added)
            runs.start(app.wh, f"new-{n}", tid, "incremental", start + timedelta(days=1, minutes=n), None)

    def add_held() -> None:
        with served.app() as app:
            app.land_records("other", [orjson.dumps(push_event(f"late-{next(added)}"))])

    walked = _walk(served, "/v1/tenants/other/runs", "run_id", add_run)
    assert walked == before_runs  # newest first: what was added since is newer than every cursor
    held = _walk(served, "/v1/tenants/other/quarantine", "quarantine_id", add_held)
    assert len(held) == len(set(held)) and held[: len(before_held)] == before_held  # none lost or repeated
