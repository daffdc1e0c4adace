"""The push API over real HTTP: what lands, what is refused and why, who may push where."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest

from factories import push_event
from web.conftest import Served

pytestmark = pytest.mark.integration


def push(
    s: Served, body: bytes | list[Any], *, token: str | None = "", tenant: str = "app", **headers: str
) -> httpx.Response:
    data = json.dumps(body).encode() if isinstance(body, list) else body
    h = {"Content-Type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
    if token is not None:
        h["Authorization"] = f"Bearer {token or s.token}"
    return httpx.post(f"{s.url}/v1/tenants/{tenant}/orders", content=data, headers=h, timeout=30)


def landed(s: Served) -> list[tuple[Any, ...]]:
    with s.app() as app:
        return app.wh.query(
            "SELECT l.order_id, l.status, l.total_value, l.source FROM cdp.orders_landing l "
            "JOIN cdp.tenants t ON t.tenant_id = l.tenant_id WHERE t.tenant_name = 'app' ORDER BY 1, 2"
        )


def test_a_batch_lands_its_good_items_and_quarantines_the_bad_with_their_index(served: Served) -> None:
    bad_total = push_event("A-3", total_value=12990)  # fine: a number of units
    items: list[Any] = [
        push_event("A-1", total_value="129.90"),
        {"order_id": "A-2"},
        bad_total,
        "not an object",
        push_event("A-4", total_value="1.234"),
    ]
    r = push(served, items)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["received"], answer["landed"], answer["duplicates"], answer["quarantined"]) == (5, 2, 0, 3)
    assert [e["index"] for e in answer["errors"]] == [1, 3, 4]
    assert "event_time is missing" in answer["errors"][0]["reason"]
    assert "two decimal places" in answer["errors"][2]["reason"]
    rows = landed(served)
    assert [(r[0], str(r[2]), r[3]) for r in rows] == [("A-1", "129.90", "push"), ("A-3", "12990.00", "push")]
    with served.app() as app:
        held = app.quarantine_list("app")
    assert sorted(q["reason"][:20] for q in held) == sorted(e["reason"][:20] for e in answer["errors"])


def test_the_same_events_as_ndjson_gzip_or_vtex_numbers_are_duplicates(served: Served) -> None:
    paid = push_event("B-1", status="payment-approved", event_time="2026-12-01T10:05:00Z")
    assert push(served, [push_event("B-1", total_value="129.90"), paid]).json()["landed"] == 2
    lines = b"\n".join(json.dumps(e, indent=None).encode() for e in [paid]) + b"\n"
    again = push(served, gzip.compress(lines), Content_Type="application/x-ndjson", Content_Encoding="gzip")
    assert again.status_code == 200, again.text
    assert again.json() == {
        "received": 1,
        "landed": 0,
        "duplicates": 1,
        "quarantined": 0,
        "errors": [],
        "errors_omitted": 0,
    }
    as_number = push(served, [push_event("B-1", total_value=129.9), push_event("B-1", total_value=129.9)])
    assert as_number.json()["duplicates"] == 2  # 129.9 is "129.90": the same version
    assert len(landed(served)) == 2


def test_auth_no_token_wrong_token_other_tenant_and_revoked(served: Served) -> None:
    assert push(served, [push_event("C-1")], token=None).status_code == 401
    assert push(served, [push_event("C-1")], token="ost_nonsense").status_code == 401
    other = push(served, [push_event("C-1")], token=served.other_token)
    missing = push(served, [push_event("C-1")], tenant="nobody")
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json()  # the same answer whether the tenant exists or not
    with served.app() as app:
        token_id = next(t.token_id for t in app.list_tokens("app"))
        app.revoke_token(token_id)
    assert push(served, [push_event("C-1")]).status_code == 401
    assert landed(served) == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"[{", {}, 400, "not valid JSON"),
        (b'{"order_id": "x"}', {}, 400, "not a JSON array"),
        (b"\x1f\x8b\x08garbage", {"Content_Encoding": "gzip"}, 400, "gzip"),
        (b"[]", {"Content_Type": "text/csv"}, 415, "application/json"),
        (b"[]", {"Content_Encoding": "br"}, 415, "gzip"),
        (b"[" + b" " * (2 * 1024 * 1024) + b"]", {}, 413, "MB"),
        (gzip.compress(b"[" + b" " * (3 * 1024 * 1024) + b"]"), {"Content_Encoding": "gzip"}, 413, "decompression"),
    ],
)
def test_unreadable_bodies_are_refused_whole(
    served: Served, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    r = push(served, body, **headers)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]
    assert landed(served) == []


def test_ndjson_line_that_is_not_json_is_quarantined_not_the_body(served: Served) -> None:
    body = json.dumps(push_event("D-1")).encode() + b"\n{oops\n\n" + json.dumps(push_event("D-2")).encode()
    r = push(served, body, Content_Type="application/x-ndjson; charset=utf-8")
    answer = r.json()
    assert (answer["landed"], answer["quarantined"], answer["errors"][0]["index"]) == (2, 1, 1)


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(served: Served) -> None:
    first = push(served, [push_event("E-1"), {"bad": 1}], Idempotency_Key="batch-1")
    again = push(served, [push_event("E-1"), {"bad": 1}], Idempotency_Key="batch-1")
    assert again.json() == first.json() and first.json()["landed"] == 1
    assert again.headers.get("Idempotent-Replayed") == "true"
    with served.app() as app:
        assert len(app.quarantine_list("app")) == 1  # nothing landed or quarantined a second time
    assert push(served, [push_event("E-2")], Idempotency_Key="batch-1").status_code == 409


def test_health_and_openapi(served: Served) -> None:
    health = httpx.get(f"{served.url}/v1/health").json()
    assert health["status"] == "ok" and health["schema_version"] >= 5
    spec = httpx.get(f"{served.url}/openapi.json").json()
    post = spec["paths"]["/v1/tenants/{tenant}/orders"]["post"]
    assert {"200", "401", "403", "413", "415"} <= set(post["responses"])
    assert "application/x-ndjson" in post["requestBody"]["content"]
