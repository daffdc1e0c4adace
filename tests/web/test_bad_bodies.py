"""Every class of bad record through every way in, on both warehouses: pushed as NDJSON lines and as
JSON array elements, written into ingest files (NDJSON, a JSON array, CSV), as order events and as
VTEX get-order bodies (tests/land/bad_inputs.py). Each bad item is quarantined with a reason naming
its problem, kept as it came, while the good items of the same batch land. Hostile text (SQL,
HTML and script, NUL, invalid UTF-8, huge numbers, deep nesting, 1 MB strings) never fails a batch
and is stored bound, as sent. Hook notifications with bad bodies are answered 200 and quarantined;
a wrong secret is answered 401."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from factories import push_event, push_event_json
from land.bad_inputs import BAD as VTEX_BAD
from land.bad_inputs import Bad
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.land.quarantine import quarantined_raw
from ordersync.land.records import MAX_PAYLOAD_BYTES
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.files import KEPT_BYTES
from ordersync.sources.vtex.hook import SECRET_HEADER
from support.processes import wait_for
from support.sim import register, settings_for

pytestmark = pytest.mark.integration

SQL = "x'); DROP TABLE cdp.orders_landing; --"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
MB = "m" * (1024 * 1024)


#: What this module's events hold besides order_id (the rest is factories.push_event's): cases below
#: replace bytes of it ("Ana Lima", "payment") and expect its status back.
APP_FIELDS: dict[str, Any] = {
    "event_time": "2026-11-02T10:15:00.000-03:00",
    "status": "payment-approved",
    "creation_date": "2026-11-02T10:02:00.000-03:00",
    "sales_channel": "app",
    "customer": {"id": "c-1", "email": "ana@example.com", "name": "Ana Lima"},
    "app_version": "5.0.0",
}


def event(order_id: Any = "E-1", **over: Any) -> bytes:
    return push_event_json(order_id, **(APP_FIELDS | over))


def raw_total(text: str, order_id: str = "raw-total") -> bytes:
    """An event whose total_value is written as `text` verbatim (NaN, 1e400: not what orjson writes)."""
    return event(order_id, total_value=0).replace(b'"total_value":0', b'"total_value":' + text.encode())


def deep(depth: int, order_id: str = "deep") -> bytes:
    return event(order_id, note=0).replace(b'"note":0', b'"note":' + b"[" * depth + b"]" * depth)


EVENT_BAD: list[Bad] = [
    Bad("truncated_json", event("cut")[:-20], "not valid JSON"),
    Bad("array", b"[1, 2]", "is a list, not an order object"),
    Bad("json_string", b'"an event"', "is a string, not an order object"),
    Bad("json_null", b"null", "is null, not an order object"),
    Bad("neither_event_nor_vtex", b'{"foo": 1}', "neither an order event"),
    Bad("order_id_missing", event(order_id=None), "order_id is missing"),
    Bad("order_id_number", event(order_id=12345), "order_id 12345 is not a string"),
    Bad("order_id_object", event(order_id={"id": "x"}), "is not a string"),
    Bad("order_id_whitespace", event(" \t "), "empty or only white space"),
    Bad("order_id_nul", event("ab\x00cd"), "holds a control character"),
    Bad("order_id_escape", event("ab\x1b[2Jcd"), "holds a control character"),
    Bad("order_id_newline", event("ab\ncd"), "holds a control character"),
    Bad("order_id_too_long", event("x" * 201), "201 characters long; at most 200"),
    Bad("order_id_padded", event(" E-1 "), "starts or ends with white space"),
    Bad("order_id_sql_too_long", event(SQL * 10), "characters long"),
    Bad("event_time_number", event("t1", event_time=1714575941), "event_time 1714575941 is not a date string"),
    Bad("event_time_words", event("t2", event_time="last tuesday"), "event_time 'last tuesday' is not an ISO-8601"),
    Bad("event_time_feb_31", event("t3", event_time="2026-02-31T00:00:00Z"), "is not an ISO-8601"),
    Bad("event_time_year_1900", event("t4", event_time="1900-01-01T00:00:00Z"), "outside the years 1970-2099"),
    Bad("event_time_without_time", event("t5", event_time="2026-11-02"), "is not an ISO-8601"),
    Bad("event_time_bad_offset", event("t6", event_time="2026-11-02T10:00:00+25:00"), "is not an ISO-8601"),
    Bad("event_time_empty", event("t7", event_time=""), "event_time '' is not an ISO-8601"),
    Bad("event_time_missing", event("t8", event_time=None), "event_time is missing"),
    Bad("event_time_nul", event("t9", event_time="2026-11-02T10:00:00\x00Z"), "is not an ISO-8601"),
    Bad("creation_date_missing", event("t10", creation_date=None), "creation_date is missing"),
    Bad("creation_date_object", event("t11", creation_date={"$date": "2026-11-02"}), "creation_date {'$date'"),
    Bad("status_missing", event("s1", status=None), "status is missing or empty"),
    Bad("status_empty", event("s2", status=""), "status is missing or empty"),
    Bad("status_object", event("s3", status={"name": "invoiced"}), "status {'name': 'invoiced'} is not a string"),
    Bad("status_bool", event("s4", status=False), "status False is not a string"),
    Bad("status_huge", event("s5", status="s" * 100_000), "status is 100,000 characters long"),
    Bad("total_comma", event("v1", total_value="12,50"), "not a decimal number of currency units"),
    Bad("total_bool", event("v2", total_value=True), "total_value True is not a number of currency units"),
    Bad("total_null", event("v3", total_value=None), "total_value is missing"),
    Bad("total_object", event("v4", total_value={"amount": 1}), "is not a number of currency units"),
    Bad("total_nan", raw_total("NaN"), "not valid JSON"),
    Bad("total_infinity", raw_total("Infinity"), "not valid JSON"),
    Bad("total_1e300", event("v5", total_value=1e300), "is too large"),
    Bad("total_1e400", raw_total("1e400"), "infinity"),
    Bad("total_just_too_large", event("v6", total_value=10**12), "is too large"),
    Bad("total_negative", event("v7", total_value="-1.00"), "is negative"),
    Bad("total_three_places", event("v8", total_value="1.234"), "more than two decimal places"),
    Bad("total_cents_as_text", event("v9", total_value="1e5"), "not a decimal number"),
    Bad("currency_missing", event("c1", currency_code=None), "currency_code is missing or empty"),
    Bad("currency_list", event("c2", currency_code=["BRL"]), "currency_code ['BRL'] is not a string"),
    Bad("currency_formula", event("c7", currency_code='=HYPERLINK("http://x")'), "is not a currency code"),
    Bad("currency_sql", event("c8", currency_code=SQL), "is not a currency code"),
    Bad("currency_four_letters", event("c9", currency_code="BRLX"), "is not a currency code"),
    Bad("order_id_rtl_override", event("ab\u202ecd"), "a bidi control character"),
    Bad("order_id_zero_width", event("ab\u200bcd"), "a zero-width character"),
    Bad("total_float_past_the_bound", raw_total("1234567890123456.78"), "1234567890123456.78 is too large"),
    Bad("total_float_three_places", raw_total("12.300000000000000001"), "more than two decimal places"),
    Bad("customer_list", event("c3", customer=[{"email": "a@b.c"}]), "customer is a list, not an object"),
    Bad("customer_string", event("c4", customer="ana"), "customer is a string, not an object"),
    Bad("customer_email_list", event("c5", customer={"email": ["a@b.c"]}), "customer.email"),
    Bad("customer_huge_name", event("c6", customer={"name": "n" * 5000}), "5,000 characters long"),
    Bad("body_5mb", event("big", padding="p" * (5 * 1024 * 1024)), "bytes; at most 4,194,304"),
    Bad("latin1_name", event("u1").replace(b"Ana Lima", b"An\xe1 Lima"), "not valid UTF-8 (byte 0xe1 at offset"),
    Bad("raw_nul_byte", event("n1").replace(b"payment", b"pay\x00ment"), "not valid JSON"),
    Bad("lone_surrogate", event("n2").replace(b'"n2"', b'"\\ud800"'), "not valid JSON"),
    Bad("nested_too_deep", deep(5000), "depth limit exceeded"),
    Bad("trailing_garbage", event("g1") + b" trailing", "not valid JSON"),
    Bad("two_objects", event("g2") + event("g3"), "not valid JSON"),
]

# Reasons the push parser words its own way for records the landing tests name by msgspec's words.
_PUSHED_REASON = {
    "value_400_digits": "infinity",
    "value_1e400": "infinity",
    "nested_too_deep": "depth limit exceeded",
}
VTEX_PUSHED = [Bad(b.name, b.raw, _PUSHED_REASON.get(b.name, b.reason)) for b in VTEX_BAD]


@dataclass(frozen=True)
class Hostile:
    """Hostile but valid: it lands, its text stored as sent (`want`: columns of the landed row)."""

    name: str
    raw: bytes
    order_id: str
    want: dict[str, Any]


HOSTILE_LAND: list[Hostile] = [
    Hostile(
        "sql_everywhere",
        event(SQL, status=SQL, customer={"id": SQL, "email": SQL, "name": SQL}, note=SQL),
        SQL,
        {"status": SQL, "customer_email": SQL, "customer_name": SQL},
    ),
    Hostile(
        "sql_placeholders",
        event("ph-1", status="?", customer={"email": "%s", "name": "E'\\x00'"}),
        "ph-1",
        {"status": "?", "customer_email": "%s", "customer_name": "E'\\x00'"},
    ),
    Hostile(
        "html_and_script",
        event("html-1", status=HTML, customer={"name": "</textarea><svg/onload=alert(1)>", "email": HTML}),
        "html-1",
        {"status": HTML, "customer_name": "</textarea><svg/onload=alert(1)>", "customer_email": HTML},
    ),
    Hostile(
        "nul_escapes",
        event("nul-1", status="pay\x00ment-approved", customer={"name": "\x00Ana"}, note="a\x00b"),
        "nul-1",
        {"status": "payment-approved", "customer_name": "Ana"},
    ),
    Hostile("string_1mb_free_field", event("mb-1", note=MB), "mb-1", {"status": "payment-approved"}),
    Hostile("nesting_200_deep", deep(200, "deep-200"), "deep-200", {"status": "payment-approved"}),
    Hostile("largest_total", event("max-1", total_value="999999999999.99"), "max-1", {}),
]

HOSTILE_BAD: list[Bad] = [
    Bad("invalid_utf8_free_field", event("h1", note="x").replace(b'"x"', b'"\xff\xfe"'), "not valid UTF-8"),
    Bad("raw_nul_free_field", event("h2", note="x").replace(b'"x"', b'"a\x00b"'), "not valid JSON"),
    Bad(
        "huge_integer_total",
        event("h3", total_value=0).replace(b":0,", b":" + b"9" * 40 + b",", 1),
        "is too large",
    ),
    Bad("number_1e400_free_field", event("h4", note=0).replace(b'"note":0', b'"note":1e400'), "infinity"),
    Bad("nesting_5000_deep", deep(5000, "h5"), "depth limit exceeded"),
    # deeper than the canonical spelling is written (255), within what is read (1024)
    Bad("nesting_300_deep", deep(300, "h7"), "cannot be written as JSON"),
    Bad("string_1mb_status", event("h6", status=MB), "status is 1,048,576 characters long"),
    Bad("sql_order_id_with_nul", event(SQL + "\x00"), "holds a control character"),
]


def _line_safe(raw: bytes) -> bool:
    """Can stand as one NDJSON line."""
    return b"\n" not in raw and b"\r" not in raw and bool(raw.strip()) and not raw.startswith(b"\xef\xbb\xbf")


def _decodes(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _balanced(raw: bytes) -> bool:
    """Can stand as one element of a JSON array: its brackets and strings close (it may still be
    invalid JSON inside)."""
    depth, i, in_string = 0, 0, False
    while i < len(raw):
        c = raw[i : i + 1]
        if in_string:
            if c == b"\\":
                i += 1
            elif c == b'"':
                in_string = False
        elif c == b'"':
            in_string = True
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
            if depth < 0:
                return False
        elif c == b"," and depth == 0:
            return False
        i += 1
    return depth == 0 and not in_string and bool(raw.strip())


# -- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    settings_url: str
    tmp: Path

    def app(self) -> Ordersync:
        return Ordersync(settings_for(self.settings_url, self.tmp))

    def push_tenant(self, name: str) -> str:
        with self.app() as app:
            app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
            return app.create_token(name)[1]

    def push(self, tenant: str, token: str, body: bytes, content_type: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        return httpx.post(f"{self.url}/v1/tenants/{tenant}/orders", content=body, headers=headers, timeout=120)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("bad-bodies")
    if request.param == "duckdb":
        url = str(tmp / "wh.duckdb")
    else:
        import psycopg

        url = str(request.getfixturevalue("pg_server_url"))
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP SCHEMA IF EXISTS cdp CASCADE")
    with Ordersync(settings_for(url, tmp)) as setup:
        setup.init()
    app = Ordersync(settings_for(url, tmp))
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600, max_body_mb=32), worker=False)
    with serving_in_thread(app, options) as (base, _):
        yield Server(base, url, tmp)


_tenants = iter(range(1, 10_000))


def new_tenant(server: Server) -> tuple[str, str]:
    name = f"bad{next(_tenants)}"
    return name, server.push_tenant(name)


def landed(server: Server, tenant: str) -> dict[str, dict[str, Any]]:
    with server.app() as app:
        tid = app.tenants.get(tenant).tenant_id
        rows = app.wh.query_dicts("SELECT * FROM cdp.orders_landing WHERE tenant_id = ?", (tid,))
    return {r["order_id"]: r for r in rows}


def held(server: Server, tenant: str) -> list[tuple[str, bytes, str]]:
    """(reason, raw bytes, source) of the tenant's quarantined records, oldest first."""
    with server.app() as app:
        tid = app.tenants.get(tenant).tenant_id
        rows = app.wh.query(
            "SELECT quarantine_id, reason, source FROM cdp.quarantine WHERE tenant_id = ? ORDER BY quarantine_id",
            (tid,),
        )
        return [(str(r[1]), quarantined_raw(app.wh, int(r[0])), str(r[2])) for r in rows]


def goods(prefix: str, n: int) -> list[bytes]:
    return [event(f"{prefix}-good-{i}", total_value=f"{i}.50") for i in range(n)]


def interleave(good: list[bytes], bad: list[bytes]) -> tuple[list[bytes], list[int]]:
    """good, bad, good, bad, ..., good; and the indexes of the bad ones."""
    items: list[bytes] = []
    at: list[int] = []
    for i, raw in enumerate(bad):
        items.append(good[i])
        at.append(len(items))
        items.append(raw)
    items.append(good[len(bad)])
    return items, at


def assert_tables_intact(server: Server) -> None:
    with server.app() as app:
        for table in ("tenants", "orders_landing", "quarantine", "api_tokens", "idempotency_keys", "landing_batches"):
            assert app.table_exists(table), table


# -- pushed ------------------------------------------------------------------------------------

CATALOGUES = {"events": EVENT_BAD, "vtex": VTEX_PUSHED, "hostile": HOSTILE_BAD}


@pytest.mark.parametrize("catalogue", list(CATALOGUES))
def test_every_bad_class_pushed_as_ndjson_lines_is_quarantined_while_the_good_lines_land(
    server: Server, catalogue: str
) -> None:
    bad = [b for b in CATALOGUES[catalogue] if _line_safe(b.raw)]
    tenant, token = new_tenant(server)
    good = goods(catalogue, len(bad) + 1)
    items, at = interleave(good, [b.raw for b in bad])
    r = server.push(tenant, token, b"\n".join(items) + b"\n", "application/x-ndjson")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["received"], answer["landed"], answer["quarantined"]) == (len(items), len(good), len(bad))
    assert [e["index"] for e in answer["errors"]] == at
    for b, e in zip(bad, answer["errors"], strict=True):
        assert b.reason in e["reason"], (b.name, e["reason"])
        assert len(e["reason"]) < 400 and "\x00" not in e["reason"]
    assert set(landed(server, tenant)) == {orjson.loads(g)["order_id"] for g in good}
    rows = held(server, tenant)
    assert [(reason, raw, source) for reason, raw, source in rows] == [
        (e["reason"], b.raw, "push") for b, e in zip(bad, answer["errors"], strict=True)
    ]  # each line kept byte for byte
    assert_tables_intact(server)


@pytest.mark.parametrize("decodable", [True, False], ids=["decodable", "any"])
@pytest.mark.parametrize("catalogue", list(CATALOGUES))
def test_every_bad_class_pushed_as_json_array_elements_is_quarantined_while_the_good_ones_land(
    server: Server, catalogue: str, decodable: bool
) -> None:
    bad = [
        b
        for b in CATALOGUES[catalogue]
        if _balanced(b.raw.removeprefix(b"\xef\xbb\xbf")) and (_decodes(b.raw) or not decodable)
    ]
    tenant, token = new_tenant(server)
    good = goods(catalogue, len(bad) + 1)
    items, at = interleave(good, [b.raw.removeprefix(b"\xef\xbb\xbf") for b in bad])
    r = server.push(tenant, token, b"[" + b",\n".join(items) + b"]", "application/json")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["received"], answer["landed"], answer["quarantined"]) == (len(items), len(good), len(bad))
    assert [e["index"] for e in answer["errors"]] == at
    for b, e in zip(bad, answer["errors"], strict=True):
        assert b.reason in e["reason"], (b.name, e["reason"])
    assert set(landed(server, tenant)) == {orjson.loads(g)["order_id"] for g in good}
    rows = held(server, tenant)
    assert len(rows) == len(bad)
    whole = all(_decodes(raw) for raw in items) and not any(b.name == "nesting_300_deep" for b in bad)
    for (_, raw, _), b in zip(rows, bad, strict=True):
        sent = b.raw.removeprefix(b"\xef\xbb\xbf")
        # an array that decodes (and can be written again) keeps each element as decoded, in one
        # spelling; one that does not, and an element whose total was read from its text, as sent
        decoded = orjson.loads(sent) if whole else None
        respelled = whole and not (isinstance(decoded, dict) and isinstance(decoded.get("total_value"), float))
        assert raw == (orjson.dumps(orjson.loads(sent)) if respelled else sent), b.name


def test_a_hostile_element_does_not_refuse_its_json_array(server: Server) -> None:
    """An element nested deeper than the decoder goes, a number out of range, bytes that are not
    UTF-8 or a raw NUL inside one element: that element is quarantined, not the whole body."""
    tenant, token = new_tenant(server)
    bad = [b for b in HOSTILE_BAD if not _decodes(b.raw)]
    assert len(bad) >= 4
    good = goods("arr", len(bad) + 1)
    items, at = interleave(good, [b.raw for b in bad])
    r = server.push(tenant, token, b"[" + b",".join(items) + b"]", "application/json")
    assert r.status_code == 200, r.text
    assert (r.json()["landed"], r.json()["quarantined"]) == (len(good), len(bad))
    assert [e["index"] for e in r.json()["errors"]] == at
    assert [raw for _, raw, _ in held(server, tenant)] == [b.raw for b in bad]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" + event("cut-1") + b"," + event("cut-2")[:-5], "not valid JSON"),  # cut short
        (b"[" + event("t-1") + b"] trailing", "not valid JSON"),
        (b'{"order_id": "x"} ' + b"[" * 5000, "not valid JSON"),
        (b"[" + event("open-1") + b"," + b"[" * 3000, "not valid JSON"),
    ],
)
def test_a_json_body_cut_short_or_not_an_array_is_still_refused_whole(server: Server, body: bytes, says: str) -> None:
    tenant, token = new_tenant(server)
    r = server.push(tenant, token, body, "application/json")
    assert r.status_code == 400, r.text
    assert says in r.json()["detail"]
    assert landed(server, tenant) == {} and held(server, tenant) == []


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_hostile_text_lands_bound_and_as_sent(server: Server, content_type: str) -> None:
    tenant, token = new_tenant(server)
    raws = [h.raw for h in HOSTILE_LAND]
    body = b"\n".join(raws) if content_type == "application/x-ndjson" else b"[" + b",".join(raws) + b"]"
    r = server.push(tenant, token, body, content_type)
    assert r.status_code == 200, r.text
    assert (r.json()["landed"], r.json()["quarantined"]) == (len(raws), 0), r.json()["errors"]
    rows = landed(server, tenant)
    assert set(rows) == {h.order_id for h in HOSTILE_LAND}
    for h in HOSTILE_LAND:
        row = rows[h.order_id]
        for key, value in h.want.items():
            assert row[key] == value, (h.name, key, row[key][:80])
        # the payload is the event in one spelling: every field as sent, NUL kept as its escape
        assert orjson.loads(row["payload"]) == orjson.loads(h.raw) | {
            "total_value": orjson.loads(row["payload"])["total_value"],
            "event_time": orjson.loads(row["payload"])["event_time"],
            "creation_date": orjson.loads(row["payload"])["creation_date"],
        }
    assert len(rows["mb-1"]["payload"]) > len(MB)
    assert_tables_intact(server)
    with server.app() as app:
        assert app.wh.scalar("SELECT count(*) FROM cdp.tenants") >= 1


# -- ingested files ----------------------------------------------------------------------------


def _kept(raw: bytes) -> bytes:
    """What a file's quarantine keeps of a row: all of it, or the first bytes of one longer than
    any payload may be."""
    return raw[:KEPT_BYTES] if len(raw) > MAX_PAYLOAD_BYTES + 3 else raw


def _ingest(server: Server, tenant: str, path: Path) -> Any:
    with server.app() as app:
        [result] = app.ingest_files(tenant, [path])
    return result


# A VTEX body in a file is read by `ordersync land`'s parser, with its own words.
FILE_CATALOGUES = {"events": EVENT_BAD, "vtex": VTEX_BAD, "hostile": HOSTILE_BAD}


@pytest.mark.parametrize("catalogue", list(FILE_CATALOGUES))
def test_every_bad_class_in_an_ndjson_file_is_quarantined_naming_its_line(
    server: Server, catalogue: str, tmp_path: Path
) -> None:
    bad = [b for b in FILE_CATALOGUES[catalogue] if _line_safe(b.raw)]
    tenant, _ = new_tenant(server)
    good = goods(f"f{catalogue}", len(bad) + 1)
    items, at = interleave(good, [b.raw for b in bad])
    path = tmp_path / f"{catalogue}.ndjson"
    path.write_bytes(b"\n".join(items) + b"\n")
    result = _ingest(server, tenant, path)
    assert (result.received, result.landed, result.quarantined) == (len(items), len(good), len(bad))
    assert set(landed(server, tenant)) == {orjson.loads(g)["order_id"] for g in good}
    rows = held(server, tenant)
    for (reason, raw, source), b, index in zip(rows, bad, at, strict=True):
        assert reason.startswith(f"{path.name} line {index + 1}: "), reason
        assert b.reason in reason, (b.name, reason)
        assert raw == _kept(b.raw) and source == "file", b.name


def test_every_bad_class_in_a_json_array_file_is_quarantined_alone(server: Server, tmp_path: Path) -> None:
    bad = [b for b in EVENT_BAD + HOSTILE_BAD if _balanced(b.raw)]
    tenant, _ = new_tenant(server)
    good = goods("fjson", len(bad) + 1)
    items, _ = interleave(good, [b.raw for b in bad])
    path = tmp_path / "events.json"
    path.write_bytes(b"[\n" + b",\n".join(items) + b"\n]\n")
    result = _ingest(server, tenant, path)
    assert (result.landed, result.quarantined) == (len(good), len(bad))
    for (reason, raw, _), b in zip(held(server, tenant), bad, strict=True):
        assert b.reason in reason, (b.name, reason)
        assert raw == _kept(b.raw), b.name


CSV_COLUMNS = ["order_id", "event_time", "status", "total_value", "currency_code", "creation_date",
               "customer.email", "customer.name", "note"]  # fmt: skip


def csv_row(order_id: str, **over: str) -> list[str]:
    doc = push_event(order_id, **APP_FIELDS)
    row = {
        **{k: str(doc[k]) for k in CSV_COLUMNS[:6]},
        "customer.email": "ana@example.com",
        "customer.name": "Ana Lima",
        "note": "",
    }
    row.update(over)
    return [row[c] for c in CSV_COLUMNS]


#: (name, row as text cells or raw bytes of the line, reason)
CSV_BAD: list[tuple[str, list[str] | bytes, str]] = [
    ("order_id_empty", csv_row(""), "order_id is missing"),
    ("order_id_whitespace", csv_row("   "), "empty or only white space"),
    ("order_id_too_long", csv_row("x" * 201), "201 characters long"),
    ("order_id_padded", csv_row(" E-1 "), "starts or ends with white space"),
    ("order_id_nul", csv_row("a\x00b"), "holds a control character"),
    ("event_time_words", csv_row("r1", event_time="last tuesday"), "is not an ISO-8601"),
    ("event_time_feb_31", csv_row("r2", event_time="2026-02-31T00:00:00Z"), "is not an ISO-8601"),
    ("event_time_year_1900", csv_row("r3", event_time="1900-01-01T00:00:00Z"), "outside the years"),
    ("event_time_missing", csv_row("r4", event_time=""), "event_time is missing"),
    ("creation_date_missing", csv_row("r5", creation_date=""), "creation_date is missing"),
    ("status_missing", csv_row("r6", status=""), "status is missing or empty"),
    ("status_huge", csv_row("r7", status="s" * 5000), "status is 5,000 characters long"),
    ("total_comma", csv_row("r8", total_value="12,50"), "not a decimal number"),
    ("total_negative", csv_row("r9", total_value="-1.00"), "is negative"),
    ("total_three_places", csv_row("r10", total_value="1.234"), "more than two decimal places"),
    ("total_nan", csv_row("r11", total_value="NaN"), "not a decimal number"),
    ("total_1e400", csv_row("r12", total_value="1e400"), "not a decimal number"),
    ("total_huge", csv_row("r13", total_value="9" * 40), "not a decimal number"),
    ("total_too_large", csv_row("r14", total_value="1000000000000.00"), "is too large"),
    ("currency_missing", csv_row("r15", currency_code=""), "currency_code is missing"),
    ("name_1mb", csv_row("r16", **{"customer.name": MB}), "1,048,576 characters long"),
    ("too_few_fields", b"r17,2026-11-02T10:00:00Z,invoiced", "the row has 3 fields; the header has 9"),
    (
        "latin1",
        b"r18,2026-11-02T10:00:00Z,invoiced,1.00,BRL,2026-11-02T10:00:00Z,a@b.c,Jos\xe9,",
        "not valid UTF-8 (byte 0xe9",
    ),
]
#: a quote never closed takes the rest of the file with it: the file's last line
UNCLOSED = b'r19,2026-11-02T10:00:00Z,"invoiced,1.00,BRL'


def _csv_line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue().encode()


def test_every_bad_class_in_a_csv_file_is_quarantined_while_the_good_rows_land(server: Server, tmp_path: Path) -> None:
    tenant, _ = new_tenant(server)
    hostile = [
        csv_row(SQL, status=SQL, note=SQL, **{"customer.name": HTML, "customer.email": SQL}),
        csv_row("csv-mb", note=MB),
    ]
    good = [csv_row(f"csv-good-{i}", total_value=f"{i}.10") for i in range(len(CSV_BAD) + 1)]
    lines = [_csv_line(CSV_COLUMNS)]
    bad_lines: list[int] = []
    for i, (_, row, _) in enumerate(CSV_BAD):
        lines.append(_csv_line(good[i]))
        lines.append(row if isinstance(row, bytes) else _csv_line(row))
        bad_lines.append(len(lines))
    lines.append(_csv_line(good[-1]))
    lines += [_csv_line(h) for h in hostile]
    lines.append(UNCLOSED)
    path = tmp_path / "events.csv"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = _ingest(server, tenant, path)
    assert (result.landed, result.quarantined) == (len(good) + len(hostile), len(CSV_BAD) + 1), result
    rows = held(server, tenant)
    assert len(rows) == len(CSV_BAD) + 1
    for (reason, raw, _), (name, row, says), line in zip(rows, CSV_BAD, bad_lines, strict=False):
        assert reason.startswith(f"events.csv line {line}: "), (name, reason)
        assert says in reason, (name, reason)
        if isinstance(row, bytes):  # a row that could not be read is kept as its bytes
            assert raw == row, name
    assert rows[-1][0].startswith(f"events.csv line {len(lines)}: ") and rows[-1][1] == UNCLOSED, rows[-1][0]
    stored = landed(server, tenant)
    assert stored[SQL]["status"] == SQL and stored[SQL]["customer_name"] == HTML
    assert orjson.loads(stored["csv-mb"]["payload"])["note"] == MB
    assert_tables_intact(server)


# -- the hook receiver -------------------------------------------------------------------------

START = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass
class Hooked:
    url: str
    secret: str
    other_secret: str
    settings_url: str
    tmp: Path
    orders: list[str]

    def app(self) -> Ordersync:
        return Ordersync(settings_for(self.settings_url, self.tmp))

    def post(self, body: bytes, secret: str | None = "", tenant: str = "store1") -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret or self.secret
        return httpx.post(f"{self.url}/v1/hooks/vtex/{tenant}", content=body, headers=headers, timeout=30)


@pytest.fixture
def hooked(warehouse_url: str, tmp_path: Path) -> Iterator[Hooked]:
    config = SimulatorConfig(port=0, seed=7, accounts=[AccountSpec("store1", 10), AccountSpec("store2", 10)],
                             days=1, start=START, speed=0.0)  # fmt: skip
    with start_in_thread(config) as sim:
        setup = Ordersync(settings_for(warehouse_url, tmp_path))
        register(setup, sim, ["store1", "store2"], config.app_key, config.app_token)
        secret, other = setup.new_hook_secret("store1"), setup.new_hook_secret("store2")
        setup.close()
        orders = [o["orderId"] for o in sim.truth("store1")][:2]
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        with serving_in_thread(app, options) as (url, _):
            yield Hooked(url, secret, other, warehouse_url, tmp_path, orders)


def notification(order_id: Any = None, **extra: Any) -> bytes:
    body = {"Domain": "Marketplace", "State": "invoiced", "LastChange": "2026-11-20T10:00:00Z", **extra}
    if order_id is not None:
        body["OrderId"] = order_id
    return orjson.dumps(body)


#: Bodies whose OrderId cannot be read: answered 200, quarantined at once.
HOOK_UNREADABLE: list[tuple[str, bytes]] = [
    ("not_json", b"{not json"),
    ("empty", b""),
    ("array", b"[]"),
    ("string", b'"OrderId"'),
    ("null", b"null"),
    ("no_order_id", notification()),
    ("order_id_number", notification(12345)),
    ("order_id_object", notification({"id": "x"})),
    ("order_id_empty", notification("")),
    ("order_id_too_long", notification("x" * 201)),
    ("order_id_escaped_nul", notification("a\x00b")),  # PostgreSQL text cannot hold it
    ("order_id_control", notification("ab\x1b[2Jcd")),
    ("order_id_padded", notification(" 123-01 ")),
    ("invalid_utf8", b'{"OrderId": "\xff\xfe", "State": "invoiced"}'),
    ("raw_nul", b'{"OrderId": "a\x00b", "State": "invoiced"}'),
    ("nested_5000", b'{"OrderId": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("huge_number", b'{"OrderId": "x", "n": 1e400}'),
    ("string_under_1mb", notification(None, pad="p" * 1_000_000)),
    ("sql_text", SQL.encode()),
    ("html_text", HTML.encode()),
]


def test_hook_bodies_that_cannot_be_read_are_answered_200_and_quarantined(hooked: Hooked) -> None:
    for name, body in HOOK_UNREADABLE:
        r = hooked.post(body)
        assert r.status_code == 200, (name, r.status_code, r.text)
    # after them, a good one (its State holding a NUL) still lands: none of them holds up the spool
    good = hooked.post(notification(hooked.orders[0], State="inv\x00oiced"))
    assert good.status_code == 200
    with hooked.app() as probe:

        def settled() -> bool:
            landed_ids = {r[0] for r in probe.wh.query("SELECT order_id FROM cdp.orders_landing")}
            return len(probe.quarantine_list("store1")) == len(HOOK_UNREADABLE) and hooked.orders[0] in landed_ids

        wait_for(settled, "every unreadable body quarantined and the good one landed")
        rows = probe.wh.query(
            "SELECT q.reason, q.source, q.quarantine_id FROM cdp.quarantine q ORDER BY q.quarantine_id"
        )
        assert all("no readable OrderId" in r[0] and r[1] == "hook" for r in rows)
        raws = [quarantined_raw(probe.wh, int(r[2])) for r in rows]
        assert probe.table_exists("orders_landing") and probe.table_exists("tenants")
    for (name, body), raw in zip(HOOK_UNREADABLE, raws, strict=True):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and "\x00" not in text:
            assert raw == body, name  # kept as it came
        else:  # bytes a notification's text cannot hold are written out (replacement, \x00)
            assert raw == body.decode("utf-8", errors="replace").replace("\x00", "\\x00").encode(), name


def test_hook_secrets_wrong_missing_or_another_tenants_are_401_and_keep_nothing(hooked: Hooked) -> None:
    body = notification(hooked.orders[1])
    assert hooked.post(body, secret=None).status_code == 401
    assert hooked.post(body, secret="wrong").status_code == 401
    assert hooked.post(body, secret=hooked.other_secret).status_code == 401
    assert hooked.post(body, secret=SQL).status_code == 401
    assert hooked.post(body, tenant="nobody").status_code == 401
    assert hooked.post(b"{not json", secret="wrong").status_code == 401
    assert hooked.post(notification(None, pad="p" * (1024 * 1024 + 1))).status_code == 413
    # A good notification after them: once it is in, whatever the refused ones left would be too.
    assert hooked.post(notification(hooked.orders[0])).status_code == 200
    with hooked.app() as probe:
        inbox = "SELECT order_id FROM cdp.hook_inbox"
        wait_for(lambda: probe.wh.query(inbox), "the good notification to reach the inbox")
        assert [r[0] for r in probe.wh.query(inbox)] == [hooked.orders[0]]
        assert probe.quarantine_list() == []


def test_a_hook_naming_an_order_the_store_does_not_hold_is_quarantined_once_given_up(hooked: Hooked) -> None:
    from ordersync.sources.vtex.hook import MAX_ATTEMPTS, Spool

    names = [SQL, HTML, "nope-1"]
    for order_id in names:
        assert hooked.post(notification(order_id)).status_code == 200
    with hooked.app() as probe:
        wait_for(
            lambda: probe.wh.scalar("SELECT count(*) FROM cdp.hook_inbox WHERE attempts > 0") == len(names),
            "every notification to be tried",
        )
    # serve retries every 30 s; the rounds here make the remaining attempts at once
    with hooked.app() as app:
        for _ in range(3 * MAX_ATTEMPTS):  # a round serve is making at the same moment skips the tenant
            app.hook_round(Spool(hooked.tmp / "unused-spool.ndjson"))
            if not app.wh.scalar("SELECT count(*) FROM cdp.hook_inbox WHERE processed_at IS NULL"):
                break
        held_rows = app.quarantine_list("store1")
        assert sorted(q["order_id"] for q in held_rows) == sorted(names)
        for q in held_rows:
            assert f"gave up after {MAX_ATTEMPTS} attempts" in q["reason"] and "(HTTP 404)" in q["reason"]
        assert app.wh.scalar("SELECT count(*) FROM cdp.hook_inbox WHERE processed_at IS NULL") == 0
        assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing") == 0
