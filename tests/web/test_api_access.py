"""The JSON API over real HTTP, every endpoint with every kind of caller: who sees what, another
tenant's name answered exactly as an unknown one, and every JSON answer valid against /openapi.json."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import orjson
import pytest
from openapi_spec_validator import validate as validate_spec
from prometheus_client.parser import text_string_to_metric_families

from factories import push_event
from ordersync.facade import Ordersync
from ordersync.revisions.plans import DRAFTED, Plan, PlanStore
from ordersync.sync import runs
from support.revisions import event, new_push_tenant, push
from web.apiserve import KINDS, ApiServed, module_served

pytestmark = pytest.mark.integration

LONG_AGO = "2000-01-01T00:00:00Z"
#: every read endpoint about tenant `app` (the plan's id filled in), and whether it is per tenant
READS = [
    ("/v1/tenants", False),
    ("/v1/tenants/app", True),
    ("/v1/tenants/app/runs", True),
    ("/v1/tenants/app/lateness", True),
    ("/v1/tenants/app/gaps", True),
    ("/v1/tenants/app/source-days", True),
    ("/v1/tenants/app/quarantine", True),
    ("/v1/tenants/app/customers", True),
    ("/v1/tenants/app/customers/nobody", True),
    ("/v1/tenants/app/customer-events", True),
    ("/v1/tenants/app/customer-moves?since=2026-01-01", True),
    ("/v1/builds", False),
    (f"/v1/revenue?as_of={LONG_AGO}", False),
    (f"/v1/revenue.csv?as_of={LONG_AGO}", False),
    (f"/v1/revenue/diff?since={LONG_AGO}", False),
    ("/v1/notices", False),
    ("/v1/plans", False),
    ("/v1/plans/p-app", True),
    ("/v1/plans/p-app/check", True),
]


def _plan(app: Ordersync, plan_id: str, names: list[str]) -> None:
    ids = [app.get_tenant(n).tenant_id for n in names]
    scope = {"tenant_ids": ids, "tenants": names, "from": "2026-11-01", "to": "2026-11-02"}
    now = datetime.now(UTC)
    PlanStore(app.wh).save(Plan(plan_id, "restate", DRAFTED, "author", now, scope, {"orders": []}, ""), [])


def _prepare(app: Ordersync) -> None:
    for name in ("app", "other"):
        app.land_records(name, [orjson_event(f"{name}-1"), b'{"order_id": "broken"}'])
        tid = app.get_tenant(name).tenant_id
        runs.start(app.wh, f"run-{name}", tid, "incremental", datetime(2026, 11, 1, tzinfo=UTC), None)
    _plan(app, "p-app", ["app"])
    _plan(app, "p-both", ["app", "other"])


def orjson_event(order_id: str) -> bytes:
    return orjson.dumps(push_event(order_id))


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServed]:
    with module_served(request, tmp_path_factory, "api", _prepare) as s:
        yield s


def _expected(path: str, per_tenant: bool, kind: str) -> int:
    if kind in ("none", "revoked"):
        return 401
    if kind in ("push", "metrics"):
        return 403
    if path == "/v1/builds" and kind != "admin":
        return 403
    if per_tenant and kind == "read_other":
        return 404
    return 404 if path.endswith("/nobody") else 200


def test_the_openapi_document_validates_and_leaves_pages_out(served: ApiServed) -> None:
    validate_spec(served.spec)
    paths = set(served.spec["paths"])
    assert {"/v1/tenants", "/v1/tenants/{tenant}/runs", "/v1/plans/{plan_id}/approve", "/login"} <= paths
    assert all(p.startswith(("/v1/", "/login", "/logout")) for p in paths), paths


@pytest.mark.parametrize("path,per_tenant", READS, ids=[p for p, _ in READS])
def test_every_read_with_every_kind_of_caller(served: ApiServed, path: str, per_tenant: bool) -> None:
    answers = {kind: served.get(path, kind) for kind in KINDS}
    got = {kind: r.status_code for kind, r in answers.items()}
    assert got == {kind: _expected(path, per_tenant, kind) for kind in KINDS}, {
        k: r.text[:200] for k, r in answers.items()
    }
    if per_tenant:
        # another tenant's name and an unknown one: the same status and the same body
        unknown = path.replace("/app", "/nosuch", 1).replace("p-app", "p-nosuch")
        theirs = answers["read_other"]
        named = served.get(unknown.replace("nosuch", "app"), "read_other")
        assert (theirs.status_code, theirs.json()) == (named.status_code, named.json())
        missing = served.get(unknown, "read_other")
        assert missing.status_code == 404
        assert missing.json()["detail"].replace("nosuch", "app") == theirs.json()["detail"]


def test_a_read_token_sees_its_own_tenant_in_the_fleet_lists(served: ApiServed) -> None:
    for kind, own in (("read", "app"), ("read_other", "other")):
        assert [t["tenant"] for t in served.get("/v1/tenants", kind).json()["data"]] == [own]
        plans = {p["plan_id"] for p in served.get("/v1/plans", kind).json()["data"]}
        assert "p-both" not in plans  # never a plan touching another tenant
        assert ("p-app" in plans) == (own == "app")
        revenue = served.get("/v1/revenue", kind, as_of=datetime.now(UTC).isoformat()).json()
        assert {d["tenant"] for d in revenue["data"]} <= {own}
        assert revenue["as_of"] is not None
    admin = served.get("/v1/tenants", "admin").json()
    assert [t["tenant"] for t in admin["data"]] == ["app", "other"]
    assert {p["plan_id"] for p in served.get("/v1/plans").json()["data"]} >= {"p-app", "p-both"}


def test_items_are_the_cli_json_items(served: ApiServed) -> None:
    with served.app() as app:
        assert served.get("/v1/tenants/app/runs").json()["data"] == app.recent_runs("app")
        quarantined = app.quarantine_list("app")
        plan = app.get_plan("p-app").document()
    assert served.get("/v1/tenants/app/quarantine").json()["data"] == quarantined
    assert served.get("/v1/plans/p-app").json() == plan
    check = served.get("/v1/plans/p-app/check").json()
    assert check["holds"] is False and "[orders] settings" in check["detail"]


def test_limits_and_cursors_refused_clearly(served: ApiServed) -> None:
    for bad in ("0", "1001", "many"):
        r = served.get("/v1/tenants", limit=bad)
        assert r.status_code == 422 and "limit" in r.text
    r = served.get("/v1/tenants", cursor="not-a-cursor")
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    first = served.get("/v1/tenants", limit=1).json()
    assert len(first["data"]) == 1 and first["next"]
    second = served.get("/v1/tenants", limit=1, cursor=first["next"]).json()
    assert [t["tenant"] for t in first["data"] + second["data"]] == ["app", "other"] and second["next"] is None


def test_actions_need_an_admin_and_record_its_label(served: ApiServed) -> None:
    with served.app() as app:
        _plan(app, "p-act", ["app"])
    refused = (("none", 401), ("revoked", 401), ("push", 403), ("metrics", 403), ("read", 403), ("read_other", 403))
    for action in ("/v1/plans/p-act/approve", "/v1/plans/p-act/reject", "/v1/tenants/app/quarantine/1/retry"):
        assert {kind: served.post(action, kind).status_code for kind, _ in refused} == dict(refused), action
    with served.app() as app:
        assert app.get_plan("p-act").status == DRAFTED  # nothing refused changed anything
    assert served.post("/v1/plans/p-nosuch/approve").status_code == 404
    approved = served.post("/v1/plans/p-act/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["reviewed_by"]) == ("approved", "reviewer")
    with served.app() as app:  # both of app's records: its pushed event (read as a VTEX order) and a broken one
        event, broken = [q["quarantine_id"] for q in app.quarantine_list("app")][:2]
    assert served.post(f"/v1/tenants/app/quarantine/{broken}/retry", "read").status_code == 403
    assert served.post(f"/v1/tenants/other/quarantine/{broken}/retry").status_code == 404  # not other's record
    retried = served.post(f"/v1/tenants/app/quarantine/{broken}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["retried"], retried.json()["still_bad"]) == (1, 1)
    fixed = served.post(f"/v1/tenants/app/quarantine/{event}/retry").json()
    assert (fixed["retried"], fixed["resolved"]) == (1, 1)  # a retry reads it as the pushed event it is
    assert event not in [q["quarantine_id"] for q in served.get("/v1/tenants/app/quarantine").json()["data"]]


def test_who_am_i_answers_any_live_token_with_its_own_facts_only(served: ApiServed) -> None:
    answers = {kind: served.get("/v1/session", kind) for kind in KINDS}
    assert {k: r.status_code for k, r in answers.items()} == {
        k: 401 if k in ("none", "revoked") else 200 for k in KINDS
    }
    facts = {k: (r.json()["scope"], r.json()["label"], r.json()["csrf"]) for k, r in answers.items() if r.is_success}
    assert facts == {
        "push": ("push", "phone", None),
        "metrics": ("metrics", None, None),
        "read": ("read", "analyst", None),
        "read_other": ("read", "their analyst", None),
        "admin": ("admin", "reviewer", None),  # a bearer call has no session, so no CSRF token
    }


def test_health_needs_no_token_and_shows_no_tenant(served: ApiServed) -> None:
    r = served.http.get(f"{served.url}/v1/health")
    assert r.status_code == 200 and set(r.json()) == {"status", "warehouse", "schema_version", "worker_alive"}


def test_metrics_answer_an_admin_or_metrics_token_only_and_count_the_warehouses_runs(served: ApiServed) -> None:
    # /metrics is Prometheus' text, outside the OpenAPI document the module's client checks answers by
    answers = {kind: httpx.get(f"{served.url}/metrics", headers=served.headers(kind), timeout=60) for kind in KINDS}
    assert {k: r.status_code for k, r in answers.items()} == {
        k: 200 if k in ("admin", "metrics") else 401 for k in KINDS
    }
    samples = [s for f in text_string_to_metric_families(answers["metrics"].text) for s in f.samples]
    shown = {
        (s.name, s.labels["tenant"], s.labels["mode"], s.labels.get("outcome")): s.value
        for s in samples
        if s.name in ("ordersync_sync_runs_total", "ordersync_sync_runs_running")
    }
    with served.app() as app:
        rows = app.wh.query(
            "SELECT t.tenant_name, r.mode, r.status, count(*) FROM cdp.sync_runs r "
            "JOIN cdp.tenants t ON t.tenant_id = r.tenant_id GROUP BY 1, 2, 3"
        )
    expected = {
        ("ordersync_sync_runs_running", str(n), str(m), None)
        if st == "running"
        else ("ordersync_sync_runs_total", str(n), str(m), str(st)): float(c)
        for n, m, st, c in rows
    }
    assert shown == expected and expected, (shown, expected)


def test_a_diffs_pages_are_one_answer_against_the_moment_its_first_page_names(served: ApiServed) -> None:
    with served.app() as app:  # a tenant of its own: the module's other tests land on theirs meanwhile
        pusher = new_push_tenant(app, "diffs")
    tenant = pusher.tenant_name
    since = datetime.now(UTC)
    days = [f"2026-10-0{i}" for i in range(1, 5)]

    def land(order_id: str, day: str) -> None:
        with served.app() as app:
            push(app, pusher, [event(order_id, datetime.now(UTC), day=date.fromisoformat(day), total="10.00")])

    for i, day in enumerate(days[:3]):
        land(f"diff-{i}", day)
    first = served.get("/v1/revenue/diff", since=since.isoformat(), tenant=tenant, limit=1).json()
    against = first["against"]
    assert len(first["data"]) == 1 and first["next"] and datetime.fromisoformat(against) > since
    land("diff-3", days[3])  # lands between the pages: not in the answer the pages belong to
    pages, cursor = [first], first["next"]
    while cursor:
        pages.append(
            served.get("/v1/revenue/diff", since=since.isoformat(), tenant=tenant, limit=1, cursor=cursor).json()
        )
        cursor = pages[-1]["next"]
    assert {p["against"] for p in pages} == {against}
    assert [d["date"] for p in pages for d in p["data"]] == days[:3]
    now = served.get("/v1/revenue/diff", since=since.isoformat(), tenant=tenant).json()
    assert [d["date"] for d in now["data"]] == days and now["against"] > against
    with served.app() as app:  # the pages are the facade's (the CLI's) answer against that moment
        cli = app.revenue_diff(since, datetime.fromisoformat(against), tenant)
    assert [(str(d.order_date), str(d.delta)) for d in cli] == [
        (d["date"], d["delta"]) for p in pages for d in p["data"]
    ]
    # a cursor belongs to its moment: asked against another, it is refused
    other = served.get("/v1/revenue/diff", since=since.isoformat(), against=now["against"], cursor=first["next"])
    assert other.status_code == 400 and "cursor" in other.json()["detail"]
