"""`customers forget` on DuckDB and PostgreSQL after real builds: afterwards no raw identifier of the
person is left anywhere in `cdp` (landed versions, fct_orders, plan versions, the quarantine, the
customer tables), nor after a later version of their order lands and is built; other customers and
revenue are untouched; the act is recorded by key alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from customers.test_step import NOW, app, customers, order  # noqa: F401  (app: the fixture)
from ordersync.customers.step import RunKind
from ordersync.errors import ConfigError, NotFoundError
from ordersync.facade import Ordersync
from ordersync.land.redaction import REDACTED, redact_text
from ordersync.outcomes import RunStatus
from ordersync.sources.push.bodies import json_items

pytestmark = [pytest.mark.dbt]

ANA = {"id": "u-ana-77", "email": "Ana.Souza@example.com", "name": "Ana Souza", "phone": "+55 11 98765-4321",
       "document": "529.982.247-25", "document_type": "cpf"}  # fmt: skip
#: Ana as she may be written anywhere (lower case: the scan ignores case).
ANA_TRACES = ("u-ana-77", "ana.souza@example.com", "ana souza", "98765-4321", "529.982.247-25", "52998224725")


def _push(to: Ordersync, records: list[bytes]) -> dict[str, Any]:
    body = b"[" + b",".join(records) + b"]"
    answer = to.push_receiver().receive(to.tenants.get("shop"), json_items(body), idempotency_key=None, request=body)
    return dict(answer.body)


def _text_columns(of: Ordersync) -> list[tuple[str, str]]:
    rows = of.wh.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'cdp' "
        "AND lower(data_type) IN ('text', 'character varying', 'varchar') ORDER BY table_name, column_name"
    )
    return [(str(t), str(c)) for t, c in rows]


def traces(of: Ordersync) -> list[tuple[str, str, str]]:
    """Every (table, column, trace) where one of Ana's identifiers is still written."""
    found = []
    for table, column in _text_columns(of):
        for trace in ANA_TRACES:
            n = of.wh.scalar(f'SELECT count(*) FROM cdp."{table}" WHERE lower("{column}") LIKE ?', (f"%{trace}%",))
            if n:
                found.append((table, column, trace))
    return found


def test_forget_leaves_no_trace_of_the_person_and_redacts_what_lands_later(app: Ordersync) -> None:  # noqa: F811
    note = {"gift_note": "call Ana.Souza@example.com before delivery"}
    landed = _push(
        app,
        [
            order("A-1", 40, "100.00", **ANA),
            order("A-2", 10, "50.00", email="ANA.SOUZA@example.com"),
            orjson.dumps({**orjson.loads(order("A-3", 5, "20.00", email=ANA["email"])), **note}),
            order("B-1", 30, "80.00", id="u-bob", email="bob@example.com"),
            # a record that cannot land, naming Ana: quarantined as sent
            orjson.dumps({"order_id": "A-9", "total_value": "abc", "customer": {"email": ANA["email"]}}),
        ],
    )
    assert landed["landed"] == 4 and landed["quarantined"] == 1, landed
    # a plan keeps the versions it would land
    payload = app.wh.scalar("SELECT payload FROM cdp.orders_landing WHERE order_id = 'A-1'")
    app.wh.execute(
        "INSERT INTO cdp.plan_versions (plan_id, tenant_id, order_id, payload_hash, payload) VALUES (?, ?, ?, ?, ?)",
        ("p-1", app.tenants.get("shop").tenant_id, "A-1", "h-1", payload),
    )
    app.build()
    before = customers(app)
    assert len(before) == 2
    assert traces(app)  # the scan finds Ana where she is

    with pytest.raises(ConfigError):
        app.forget_customer("shop", by="dpo", email=ANA["email"], key="cus_x")
    done = app.forget_customer("shop", by="dpo@shop", email="ana.souza@EXAMPLE.com")
    assert done.orders == 3 and done.versions_redacted == 3 and done.plan_versions_redacted == 1
    assert done.quarantined_redacted == 1 and done.identifiers_deleted > 0
    assert traces(app) == []
    after = customers(app)
    assert set(after) == set(before) - {done.customer_key}
    (bob,) = after.values()
    assert str(bob["net_revenue"]) == "80.00"
    # revenue keeps her orders
    assert app.wh.scalar("SELECT sum(total_value) FROM cdp.fct_orders") == pytest.approx(250)
    # the redacted payloads are still orders, with their ids, totals and the note's other words
    a3 = str(app.wh.scalar("SELECT payload FROM cdp.orders_landing WHERE order_id = 'A-3'"))
    assert orjson.loads(a3)["gift_note"] == f"call {REDACTED} before delivery"
    recorded = app.wh.query("SELECT customer_key, forgotten_by FROM cdp.customer_forgotten")
    assert recorded == [(done.customer_key, "dpo@shop")]

    # a later version of her order lands redacted, is built, and makes no customer of her
    later = order("A-1", 40, "100.00", status="canceled", changed=NOW + timedelta(hours=1), **ANA)
    assert _push(app, [later])["landed"] == 1
    app.build()
    assert traces(app) == []
    assert set(customers(app)) == set(after)
    assert app.wh.scalar("SELECT status FROM cdp.fct_orders WHERE order_id = 'A-1'") == "canceled"
    (run,) = app.keep_customers(RunKind.FULL, "shop")
    assert run.status is RunStatus.SUCCEEDED and run.findings == {"changed_rows": 0, "ok": True}

    # forgotten twice by key is no error; by an identifier no one has any more, it is not found
    assert app.forget_customer("shop", by="dpo", key=done.customer_key).orders == 0
    with pytest.raises(NotFoundError):
        app.forget_customer("shop", by="dpo", email=ANA["email"])


def test_redaction_keeps_the_order_and_takes_the_person() -> None:
    body = {
        "orderId": "v-1",
        "value": 1500,
        "items": [{"name": "Shirt", "price": 1500}],
        "clientProfileData": {"email": "x@example.com", "firstName": "Xu", "document": "123", "isCorporate": False},
        "shippingData": {"address": {"street": "Rua A", "city": "Recife"}, "logisticsInfo": [{"price": 0}]},
        "customerEmail": "x@example.com",
        "note": "X@EXAMPLE.COM called",
    }
    out = orjson.loads(redact_text(orjson.dumps(body).decode(), ["x@example.com"]))
    assert out["orderId"] == "v-1" and out["value"] == 1500 and out["items"] == body["items"]
    assert out["clientProfileData"] == {
        "email": REDACTED, "firstName": REDACTED, "document": REDACTED, "isCorporate": False
    }  # fmt: skip
    assert out["shippingData"] == {"address": {"street": REDACTED, "city": REDACTED}, "logisticsInfo": [{"price": 0}]}
    assert out["customerEmail"] == REDACTED and out["note"] == f"{REDACTED} called"
    # not JSON: the person's identifiers are replaced where they stand
    assert redact_text("orderId=v-1;mail=X@example.com", ["x@example.com"]) == f"orderId=v-1;mail={REDACTED}"
