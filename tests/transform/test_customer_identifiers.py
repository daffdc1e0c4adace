"""A customer's document, its type and phone land with each version (VTEX bodies and pushed events, one
path) and reach fct_orders; a warehouse from before them gets its landed rows filled once from their
payloads by the upgrade, by the parser's rule, and its built orders by the next build, never rebuilt."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from factories import push_event, vtex_order
from ordersync.clock import ManualClock
from ordersync.land import Lander
from ordersync.land.intake import Intake, Item
from ordersync.sources.push.events import item_order_id, parse_pushed
from ordersync.warehouse import Warehouse
from ordersync.warehouse.migrate import latest_version, upgrade
from support.transform import DbtWarehouse

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
IDENTIFIERS = ("customer_document", "customer_document_type", "customer_phone")
#: Values the identifiers may be sent as: each must land as the parser reads it, and the migration's
#: SQL must read the same from the payload.
ODD: list[Any] = [
    " 529.982.247-25 ",
    "\t+55 (11) 98765-4321\r\n",
    52998224725,
    -7,
    2**63 + 5,
    1.5,
    True,
    None,
    "",
    "  ",
    "12\u00003",
    "\u00a0NBSP\u00a0",
    "Ana\u202eLima \x1b[31m",
    "ｆｕｌｌ　ｗｉｄｔｈ",
    "x" * 1000,
    " " + "y" * 1000 + " ",
    "z" * 1001,
    [1, 2],
    {"number": "1"},
]


def _bodies() -> list[bytes]:
    """VTEX bodies (landed byte for byte, escapes and all), the same value as a document, a type and
    a phone; one in which only the phone is sent, one holding NUL in an unrelated field too."""
    bodies = [
        json.dumps(vtex_order(f"v-{i}", clientProfileData={"document": v, "documentType": v, "phone": v})).encode()
        for i, v in enumerate(ODD)
    ]
    bodies.append(json.dumps(vtex_order("v-some", clientProfileData={"phone": "+5511912345678"})).encode())
    bodies.append(json.dumps(vtex_order("v-nul", note="a\u0000b", clientProfileData={"document": "1\u00002"})).encode())
    # a number past PostgreSQL's numeric range in an unrelated field: the body lands, jsonb cannot read it
    huge = json.dumps(vtex_order("v-huge", weight=0, clientProfileData={"document": "9"})).encode()
    bodies.append(huge.replace(b'"weight": 0', b'"weight": 1e999999'))
    return bodies


def _events() -> list[Item]:
    """Pushed events (written in their canonical spelling); an event's payload cannot hold an integer
    past 64 bits (refused before identifiers were read too)."""
    return [
        Item(json.dumps(push_event(f"e-{i}", customer={"document": v, "document_type": v, "phone": v})).encode())
        for i, v in enumerate(ODD)
        if not (isinstance(v, int) and abs(v) >= 2**63)
    ]


def _rows(wh: Warehouse, table: str) -> set[tuple[Any, ...]]:
    return set(wh.query(f"SELECT order_id, payload_hash, {', '.join(IDENTIFIERS)} FROM cdp.{table}"))


def _as_before_identifiers(wh: Warehouse) -> None:
    """The warehouse as the previous version left it: no identifier columns (nor the models' views
    reading them), schema version 0012 not applied."""
    wh.execute("DROP VIEW IF EXISTS cdp.order_events")
    wh.execute("DROP VIEW IF EXISTS cdp.stg_orders")
    for table in ("orders_landing", "fct_orders"):
        for column in IDENTIFIERS:
            wh.execute(f"ALTER TABLE cdp.{table} DROP COLUMN {column}")
    wh.execute("DROP TABLE cdp.pending_fills")
    wh.execute("DELETE FROM cdp.schema_migrations WHERE version = 12")
    assert latest_version() >= 12  # the later migrations stay applied: upgrade applies 0012 alone


@pytest.mark.dbt
def test_identifiers_land_reach_fct_orders_and_older_rows_are_filled_once(dbt_wh: DbtWarehouse) -> None:
    clock = ManualClock(T0)
    bodies, events = _bodies(), _events()
    pulled = Lander(dbt_wh.wh, clock).land_raw(1, UTC, bodies, "vtex", None)
    pushed = Intake(dbt_wh.wh, clock).land_items(1, UTC, events, "push", parse=parse_pushed, order_id_of=item_order_id)
    # no identifier refuses an order
    assert (pulled.landed, pushed.landed, pulled.quarantined + pushed.quarantined) == (len(bodies), len(events), 0)
    landed = _rows(dbt_wh.wh, "orders_landing")
    by_order = {r[0]: r[2:] for r in landed}
    assert by_order["v-0"] == ("529.982.247-25",) * 3
    assert by_order["e-2"] == ("52998224725",) * 3
    assert by_order["v-some"] == (None, None, "+5511912345678")
    assert by_order["v-nul"] == ("12", None, None)
    assert by_order["e-16"] == (None, None, None)  # over 1000 characters: no identifier

    dbt_wh.build()
    assert _rows(dbt_wh.wh, "fct_orders") == landed

    _as_before_identifiers(dbt_wh.wh)
    upgrade(dbt_wh.wh)
    # the migration's SQL reads each payload as the parser did, and no version changed; PostgreSQL
    # cannot read the one body past numeric's range, and that row alone keeps no identifiers
    unreadable = {"v-huge"} if dbt_wh.dialect == "postgres" else set()
    filled = {(*r[:2], None, None, None) if r[0] in unreadable else r for r in landed}
    assert _rows(dbt_wh.wh, "orders_landing") == filled
    assert {r[2:] for r in _rows(dbt_wh.wh, "fct_orders")} == {(None, None, None)}
    assert dbt_wh.wh.query("SELECT tenant_id, fill FROM cdp.pending_fills") == [(1, "customer_identifiers")]

    built = dbt_wh.wh.scalar("SELECT max(built_at) FROM cdp.fct_orders")
    dbt_wh.build()  # nothing new landed: the build fills the rows built before, in place
    assert _rows(dbt_wh.wh, "fct_orders") == filled
    assert dbt_wh.wh.scalar("SELECT max(built_at) FROM cdp.fct_orders") == built  # not rebuilt
    assert dbt_wh.wh.query("SELECT tenant_id FROM cdp.pending_fills") == []
