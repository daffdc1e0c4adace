"""Real simulator responses validate against the 200 schemas of VTEX's own OpenAPI file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from openapi_schema_validator import OAS30Validator

from ordersync.simulator import AccountSpec
from ordersync.simulator.catalog import Catalog
from ordersync.simulator.lifecycle import MAX_STEPS, NEVER, STATUS_NAMES
from ordersync.simulator.payload import OrderRenderer
from ordersync.simulator.server import RunningSimulator, start_in_thread
from ordersync.simulator.timefmt import DAY_US
from ordersync.simulator.view import order_view
from support.receiver import Receiver
from support.sim import START, call, creation_range, list_url, make_config, orders_api, send

# VTEX's own files, kept in the repository (tests/data/vtex-openapi/README.md names their source)
DATA = Path(__file__).resolve().parents[1] / "data" / "vtex-openapi"
OPENAPI = DATA / "orders-api.openapi.json"
GET_ORDER_EXAMPLE = DATA / "get-order.example.json"

pytestmark = pytest.mark.integration

#: statuses orders stay in for hours: a store of a few hundred orders a day always has some
STEADY = ("payment-pending", "window-to-cancel", "ready-for-handling", "handling", "invoiced", "canceled")
DAY = 20_240  # 2025-06-01


def _load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(OPENAPI.read_text())
    return spec


def _resolve(node: Any, spec: dict[str, Any], depth: int = 0) -> Any:
    if depth > 50:
        raise RecursionError("cyclic $ref in the OpenAPI file")
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/components/schemas/"), ref
            return _resolve(spec["components"]["schemas"][ref.rsplit("/", 1)[1]], spec, depth + 1)
        return {k: _resolve(v, spec, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, spec, depth) for v in node]
    return node


def _response_schema(spec: dict[str, Any], path: str, operation_id: str) -> dict[str, Any]:
    op = spec["paths"][path]["get"]
    assert op["operationId"] == operation_id
    content = op["responses"]["200"]["content"]
    media = next(iter(content.values()))
    schema: dict[str, Any] = _resolve(media["schema"], spec)
    return schema


@pytest.fixture(scope="module")
def validators() -> tuple[OAS30Validator, OAS30Validator]:
    spec = _load_spec()
    list_schema = _response_schema(spec, "/api/oms/pvt/orders", "ListOrders")
    get_schema = _response_schema(spec, "/api/oms/pvt/orders/{orderId}", "GetOrder")
    return OAS30Validator(list_schema), OAS30Validator(get_schema)


def _errors(validator: OAS30Validator, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_list_responses_match_the_list_orders_schema(
    sim: RunningSimulator, validators: tuple[OAS30Validator, OAS30Validator]
) -> None:
    list_validator, _ = validators
    window = creation_range(START - timedelta(days=3), START)
    seen: set[str] = set()
    for status in STATUS_NAMES:
        body = call(list_url(sim, "store1", f_creationDate=window, f_status=status, per_page=100)).json()
        assert _errors(list_validator, body) == []
        seen.update(item["status"] for item in body["list"])
    for order_by in ("creationDate,asc", "orderId,desc", "totalValue,asc", "origin,desc"):
        body = call(list_url(sim, "bigstore", f_creationDate=window, orderBy=order_by, per_page=100)).json()
        assert _errors(list_validator, body) == []
    empty = call(list_url(sim, "store1", f_status="no-such-status")).json()
    assert empty["list"] == [] and _errors(list_validator, empty) == []
    assert {"payment-pending", "handling", "invoiced", "canceled"} <= seen


def test_get_order_bodies_match_the_get_order_schema(
    sim: RunningSimulator, validators: tuple[OAS30Validator, OAS30Validator]
) -> None:
    _, get_validator = validators
    by_status: dict[str, list[tuple[str, str]]] = {}
    for account in ("store1", "bigstore"):
        for order in sim.truth(account):
            by_status.setdefault(order["status"], []).append((account, order["orderId"]))
    # The statuses an order holds for hours are always there at an instant; the short ones (a few
    # minutes) are covered in process, at the instant of the step, below.
    assert set(STEADY) <= set(by_status), sorted(by_status)
    checked = 0
    for status, refs in sorted(by_status.items()):
        for account, order_id in refs[:: max(1, len(refs) // 25)][:25]:
            reply = call(f"{sim.base_url(account)}/api/oms/pvt/orders/{order_id}")
            assert reply.status == 200, order_id
            body = reply.json()
            assert body["status"] == status
            assert _errors(get_validator, body) == [], order_id
            checked += 1
    assert checked >= 150


def test_every_status_a_lifecycle_reaches_renders_a_body_the_schema_accepts(
    validators: tuple[OAS30Validator, OAS30Validator],
) -> None:
    """An order is rendered at the instant of each step of its timeline, so every status is checked
    however briefly orders hold it (an instant of the server holds the short ones by chance only)."""
    _, get_validator = validators
    cat = Catalog(AccountSpec("unit", 2000), 7, (DAY - 2) * DAY_US, history_days=2)
    cat.ensure(DAY * DAY_US)
    renderer = OrderRenderer(cat)
    checked: dict[str, int] = {}
    for row in range(0, len(cat), 7):
        offsets, codes = cat.cols.offsets[row], cat.cols.codes[row]
        for step in range(MAX_STEPS):
            name = STATUS_NAMES[int(codes[step])]
            if offsets[step] >= NEVER or checked.get(name, 0) >= 3:
                continue
            at = int(cat.cols.creation[row]) + int(offsets[step]) * 1000
            body = orjson.loads(renderer.render(order_view(cat, row, at)))
            if body["status"] != name:  # a later step at the same instant
                continue
            assert _errors(get_validator, body) == [], (row, name)
            checked[name] = checked.get(name, 0) + 1
    assert set(STEADY) < set(checked) and len(checked) >= 12, sorted(checked)


def test_simulated_orders_carry_every_field_of_vtex_example(
    sim: RunningSimulator, validators: tuple[OAS30Validator, OAS30Validator]
) -> None:
    """The schema leaves most fields optional; VTEX's example shows what a real body holds. (The
    example itself is not held to the schema: VTEX's own example breaks it, e.g. float dimensions.)"""
    _, get_validator = validators
    example = json.loads(GET_ORDER_EXAMPLE.read_text())
    for account in ("store1", "bigstore"):
        orders = sim.truth(account)
        for order in orders[:: max(1, len(orders) // 10)]:
            body = call(f"{sim.base_url(account)}/api/oms/pvt/orders/{order['orderId']}").json()
            assert sorted(set(example) - set(body)) == [], order["orderId"]
            for key in ("clientProfileData", "shippingData", "paymentData", "storePreferencesData"):
                assert sorted(set(example[key]) - set(body[key])) == [], (order["orderId"], key)
            assert _errors(get_validator, {**body, "orderId": 42}) != []  # the validator does refuse


def _request_example(spec: dict[str, Any], path: str, method: str) -> Any:
    return next(iter(spec["paths"][path][method]["requestBody"]["content"].values()))["example"]


def test_feed_and_hook_follow_the_openapi_file() -> None:
    """VTEX's own example configurations are accepted; feed items, the feed configuration and hook
    notifications validate against the file's schemas."""
    spec = _load_spec()
    items_validator = OAS30Validator(_response_schema(spec, "/api/orders/feed", "Getfeedorderstatus1"))
    config_validator = OAS30Validator(_response_schema(spec, "/api/orders/feed/config", "GetFeedConfiguration"))
    notification_schema = _resolve({"$ref": "#/components/schemas/HookConfiguration"}, spec)
    notification_validator = OAS30Validator(notification_schema)
    with Receiver() as receiver, start_in_thread(make_config(accounts=[AccountSpec("shop", 600)], days=1)) as sim:
        feed_example = _request_example(spec, "/api/orders/feed/config", "post")
        assert feed_example["filter"] == {"type": "FromOrders", "expression": "value > 100", "disableSingleFire": False}
        assert send(orders_api(sim, "shop", "feed/config"), "POST", feed_example).status == 200
        hook_example = _request_example(spec, "/api/orders/hook/config", "post")
        hook_example["hook"]["url"] = receiver.url
        assert send(orders_api(sim, "shop", "hook/config"), "POST", hook_example).status == 200
        workflow = {"filter": {"type": "FromWorkflow", "status": list(STATUS_NAMES)}}
        assert send(orders_api(sim, "shop", "feed/config"), "POST", workflow).status == 200
        sim.advance(2 * 3600)
        items = call(orders_api(sim, "shop", "feed?maxlot=10")).json()
        config = call(orders_api(sim, "shop", "feed/config")).json()
        sim.wait_for_hooks()
        bodies = [r.json() for r in receiver.recorded() if r.body != b'{"hookConfig":"ping"}']
    assert len(items) == 10 and bodies
    assert _errors(items_validator, items) == [] and _errors(items_validator, [{"eventId": 1}]) != []
    assert _errors(config_validator, config) == [] and config["quantity"] > 0
    for body in bodies:
        assert _errors(notification_validator, body) == []
