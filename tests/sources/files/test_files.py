"""Batch files: the same order events land as the same versions from NDJSON, a JSON array, CSV and
Parquet, each gzipped or not; a file ingested twice lands nothing the second time; every row that
cannot be read or parsed is quarantined naming the file, the line and why, while the rest lands;
a file that cannot be read at all is reported and the others still land."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factories import push_event
from ordersync.errors import UnreadableFileError
from ordersync.facade import Ordersync
from ordersync.land.quarantine import quarantined_raw
from ordersync.sources.files import FileSource, Unreadable, batched
from ordersync.sources.files import reading as files
from support.sim import settings_for

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
N = 1_100  # three batches of up to 500


def event(i: int) -> dict[str, Any]:
    """An order event whose other fields are text, as a CSV row keeps them."""
    e = push_event(
        f"A-{i:05d}",
        event_time=T0 + timedelta(minutes=i, seconds=30),
        status="invoiced" if i % 3 else "payment-approved",
        total_value=Decimal(i * 7 % 10_000) / 100 + Decimal("0.10"),
        currency_code="BRL",
        creation_date=T0 + timedelta(minutes=i),
        sales_channel="app",
        customer={"id": f"c-{i % 97}", "email": f"c{i % 97}@example.com", "name": "Ana Lima"},
    )
    if i % 4 == 0:
        e["coupon"] = "BLACK10"
    if i % 5 == 0:
        e["customer"]["phone"] = "+55 11 5555-0000"
    return e


EVENTS = [event(i) for i in range(N)]


def as_json(e: dict[str, Any], *, offset: timedelta = timedelta(0), total_as_number: bool = False) -> dict[str, Any]:
    """The event as JSON: dates in the zone `offset` (the same instant), the total as a number or text."""
    zone = timezone(offset)
    out = dict(e)
    for key in ("event_time", "creation_date"):
        out[key] = e[key].astimezone(zone).isoformat().replace("+00:00", "Z")
    out["total_value"] = float(e["total_value"]) if total_as_number else f"{e['total_value']:.2f}"
    return out


def write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def ndjson(path: Path, events: list[dict[str, Any]]) -> Path:
    lines = [json.dumps(as_json(e, total_as_number=True)) for e in events]
    return write(path, ("\n".join(lines) + "\n").encode())


def json_array(path: Path, events: list[dict[str, Any]]) -> Path:
    # pretty-printed, another zone: the same instants
    doc = [as_json(e, offset=timedelta(hours=-3)) for e in events]
    return write(path, json.dumps(doc, indent=2, ensure_ascii=False).encode())


def csv_file(path: Path, events: list[dict[str, Any]]) -> Path:
    columns = [
        "order_id",
        "event_time",
        "status",
        "total_value",
        "currency_code",
        "creation_date",
        "sales_channel",
        "coupon",
        "customer.id",
        "customer.email",
        "customer.name",
        "customer.phone",
    ]
    rows = [",".join(columns)]
    for e in events:
        flat = as_json(e)
        cells = [flat.get(c, "") if "." not in c else flat["customer"].get(c.split(".")[1], "") for c in columns]
        rows.append(",".join(f'"{c}"' if "," in c or " " in c else c for c in cells))
    return write(path, ("\r\n".join(rows) + "\r\n").encode())


def parquet(path: Path, events: list[dict[str, Any]]) -> Path:
    customer = pa.struct([(k, pa.string()) for k in ("id", "email", "name", "phone")])
    table = pa.table(
        {
            "order_id": [e["order_id"] for e in events],
            "event_time": pa.array([e["event_time"] for e in events], pa.timestamp("ms", tz="UTC")),
            "status": [e["status"] for e in events],
            "total_value": pa.array([e["total_value"] for e in events], pa.decimal128(12, 2)),
            "currency_code": [e["currency_code"] for e in events],
            "creation_date": pa.array([e["creation_date"] for e in events], pa.timestamp("us", tz="UTC")),
            "sales_channel": [e["sales_channel"] for e in events],
            "coupon": [e.get("coupon") for e in events],
            "customer": pa.array([e["customer"] for e in events], customer),
        }
    )
    if path.suffix != ".gz":
        pq.write_table(table, path, row_group_size=400)
        return path
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=400)
    return write(path, sink.getvalue().to_pybytes())


WRITERS = {"ndjson": ndjson, "json": json_array, "csv": csv_file, "parquet": parquet}


def shop(url: str, tmp_path: Path) -> Iterator[Ordersync]:
    with Ordersync(settings_for(url, tmp_path)) as app:
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        yield app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Ordersync]:
    """A push store on DuckDB."""
    yield from shop(str(tmp_path / "wh.duckdb"), tmp_path)


@pytest.fixture
def app_on_each(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    """A push store on DuckDB, and on PostgreSQL."""
    yield from shop(warehouse_url, tmp_path)


def landed(app: Ordersync) -> dict[str, str]:
    rows = app.wh.query("SELECT order_id, payload_hash FROM cdp.orders_landing")
    return {str(r[0]): str(r[1]) for r in rows}


def quarantine(app: Ordersync) -> list[dict[str, Any]]:
    return app.wh.query_dicts("SELECT * FROM cdp.quarantine ORDER BY quarantine_id")


def test_every_format_lands_the_same_versions(app_on_each: Ordersync, tmp_path: Path) -> None:
    app = app_on_each
    paths = [
        WRITERS[fmt](tmp_path / f"orders.{ext}{gz}", EVENTS)
        for fmt, ext in (("ndjson", "ndjson"), ("json", "json"), ("csv", "csv"), ("parquet", "parquet"))
        for gz in ("", ".gz")
    ]
    first, *others = app.ingest_files("shop", paths)
    assert (first.received, first.landed, first.duplicates, first.quarantined) == (N, N, 0, 0), first.reasons
    versions = landed(app)
    assert len(versions) == N
    for r in others:
        # every other spelling of the same events is the same versions: nothing new, nothing refused
        assert (r.received, r.landed, r.duplicates, r.quarantined, r.error) == (N, 0, N, 0, None), (r.name, r.reasons)
    assert landed(app) == versions
    payload = orjson.loads(app.wh.scalar("SELECT payload FROM cdp.orders_landing WHERE order_id = 'A-00020'"))
    assert payload["customer"] == {
        "id": "c-20",
        "email": "c20@example.com",
        "name": "Ana Lima",
        "phone": "+55 11 5555-0000",
    }
    assert (payload["coupon"], payload["total_value"], payload["event_time"]) == (
        "BLACK10",
        "1.50",
        "2026-12-01T10:20:30+00:00",
    )
    rows = app.wh.query("SELECT file_name, received, landed, duplicates FROM cdp.ingested_files ORDER BY file_name")
    assert len(rows) == len(paths)
    assert ("orders.ndjson", N, N, 0) in [tuple(r) for r in rows]


def test_a_file_ingested_twice_lands_nothing_the_second_time(app: Ordersync, tmp_path: Path) -> None:
    path = ndjson(tmp_path / "hour-10.ndjson", EVENTS[:20])
    with path.open("ab") as fh:
        fh.write(b"{not json\n")
    [once] = app.ingest_files("shop", [path])
    assert (once.landed, once.quarantined, once.already_ingested_at) == (20, 1, None)
    # the same bytes under another name are the same file
    copy = tmp_path / "copy-of-hour-10.ndjson"
    copy.write_bytes(path.read_bytes())
    again, renamed = app.ingest_files("shop", [path, copy])
    for r in (again, renamed):
        assert r.already_ingested_at is not None and r.ok
        assert (r.received, r.landed, r.quarantined) == (0, 0, 0)
        assert r.earlier == {"received": 21, "landed": 20, "duplicates": 0, "quarantined": 1}
    assert len(quarantine(app)) == 1  # the bad line was not quarantined again


def test_bad_rows_are_quarantined_with_file_line_and_reason(app: Ordersync, tmp_path: Path) -> None:
    good = [json.dumps(as_json(e)).encode() for e in EVENTS[:4]]
    vtex_body = (
        b'{"orderId": "v-1", "status": "invoiced", "value": 1990, "creationDate": "2026-12-01T10:00:00Z",'
        b'  "lastChange": "2026-12-01T11:00:00Z"}'
    )
    huge = json.dumps({**as_json(EVENTS[10]), "notes": "x" * (5 * 1024 * 1024)}).encode()
    lines = [
        good[0],
        b"{this is not json",
        b"",
        json.dumps({**as_json(EVENTS[11]), "total_value": "12,50"}).encode(),
        good[1],
        json.dumps(as_json(EVENTS[12])).encode().replace(b"Ana", b"An\xe1"),
        huge,
        json.dumps({**as_json(EVENTS[13]), "event_time": 1764583200}).encode(),
        json.dumps({**as_json(EVENTS[14]), "customer": ["c-1"]}).encode(),
        vtex_body,
        b"[1, 2]",
        good[2],
    ]
    path = write(tmp_path / "mixed.ndjson", b"\n".join(lines) + b"\n")
    [r] = app.ingest_files("shop", [path])
    assert (r.received, r.landed, r.quarantined, r.error) == (11, 4, 7, None)
    expected = [
        "mixed.ndjson line 2: payload is not valid JSON",
        "mixed.ndjson line 4: total_value '12,50' is not a decimal number",
        "mixed.ndjson line 6: payload is not valid UTF-8 (byte 0xe1",
        "mixed.ndjson line 7: the line is 5,",
        "mixed.ndjson line 8: event_time 1764583200 is not a date string",
        "mixed.ndjson line 9: customer is a list, not an object",
        "mixed.ndjson line 11: item is a list, not an order object",
    ]
    rows = quarantine(app)
    assert [row["reason"][: len(e)] for row, e in zip(rows, expected, strict=True)] == expected
    assert r.reasons == [row["reason"] for row in rows]
    assert all(row["source"] == "file" and row["run_id"] == r.run_id for row in rows)
    # what could be read is kept byte for byte; of a line too long to land, its first 64 KiB
    assert quarantined_raw(app.wh, rows[2]["quarantine_id"]) == lines[5]
    assert quarantined_raw(app.wh, rows[3]["quarantine_id"]) == huge[: files.KEPT_BYTES]
    assert rows[4]["order_id"] == "A-00013"
    assert set(landed(app)) == {"A-00000", "A-00001", "A-00002", "v-1"}
    # a VTEX get-order body lands exactly as it was, as `ordersync land` always landed them
    assert app.wh.scalar("SELECT payload FROM cdp.orders_landing WHERE order_id = 'v-1'") == vtex_body.decode()


def test_bad_csv_json_and_parquet_rows_are_quarantined(app: Ordersync, tmp_path: Path) -> None:
    csv_path = csv_file(tmp_path / "rows.csv", EVENTS[:3])
    header, *rows = csv_path.read_bytes().split(b"\r\n")
    broken = [
        b"A-9,2026-12-01T10:00:00Z,invoiced",  # too few fields
        rows[0].replace(b"Ana", b"\xffna"),  # not UTF-8
        b'A-8,"2026-12-01T10:00:00Z"x' + b",x" * 10,  # bad quoting
    ]
    quoted = rows[1].replace(b'"Ana Lima"', b'"Ana\r\nLima"')  # a quoted line break: the row spans two lines
    assert quoted != rows[1]
    csv_path.write_bytes(b"\r\n".join([header, broken[0], quoted, broken[1], broken[2], rows[2], b""]))
    json_path = tmp_path / "rows.json"
    doc = [as_json(EVENTS[3]), {"order_id": "A-7", "total_value": "1.00"}, "just text", as_json(EVENTS[4])]
    text = json.dumps(doc, indent=1)
    json_path.write_text(text)
    element_line, text_line = (text[: text.index(s)].count("\n") + 1 for s in ('"A-7"', '"just text"'))
    pq_path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": ["A-5", "A-6"],
                "event_time": pa.array([T0, T0], pa.timestamp("ms", tz="UTC")),
                "status": ["invoiced", "invoiced"],
                "total_value": ["abc", "1.00"],
                "currency_code": ["BRL", "BRL"],
                "creation_date": pa.array([T0, T0], pa.timestamp("ms", tz="UTC")),
                "tag": pa.array([b"ok", b"\xff"], pa.binary()),
            }
        ),
        pq_path,
    )
    results = {r.name: r for r in app.ingest_files("shop", [csv_path, json_path, pq_path])}
    assert [(r.received, r.landed, r.quarantined) for r in results.values()] == [(5, 2, 3), (4, 2, 2), (2, 0, 2)]
    reasons = [row["reason"] for row in quarantine(app)]
    assert reasons[0].startswith("rows.csv line 2: the row has 3 fields; the header has 12")
    assert reasons[1].startswith("rows.csv line 5: the row is not valid UTF-8 (byte 0xff at offset")
    assert reasons[2].startswith("rows.csv line 6: the row is not valid CSV")
    # an element's line is where it begins: "{" the line before its first member
    assert reasons[3].startswith(f"rows.json line {element_line - 1}: event_time is missing")
    assert reasons[4].startswith(f"rows.json line {text_line}: item is a string, not an order object")
    assert reasons[5].startswith("rows.parquet row 1: total_value 'abc' is not a decimal number")
    assert reasons[6] == "rows.parquet row 2: column tag holds bytes that are not UTF-8 text"
    assert set(landed(app)) == {"A-00001", "A-00002", "A-00003", "A-00004"}
    name = app.wh.scalar("SELECT customer_name FROM cdp.orders_landing WHERE order_id = 'A-00001'")
    assert name == "Ana\r\nLima"  # a quoted line break is kept as it was


def test_a_file_that_cannot_be_read_is_reported_and_the_others_land(app: Ordersync, tmp_path: Path) -> None:
    good = ndjson(tmp_path / "good.ndjson", EVENTS[:5])
    (tmp_path / "fake.ndjson.gz").write_bytes(b'{"order_id": "x"}\n')
    (tmp_path / "orders.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "object.json").write_text('{"order_id": "A-1"}')
    cut = gzip.compress(good.read_bytes().replace(b"A-0", b"B-0"))[:-30]
    (tmp_path / "cut.ndjson.gz").write_bytes(cut)
    names = ["fake.ndjson.gz", "orders.xlsx", "missing.csv", "fake.parquet", "object.json", "cut.ndjson.gz"]
    results = app.ingest_files("shop", [tmp_path / n for n in names] + [good])
    errors = {r.name: r.error for r in results}
    assert "is named .gz but is not gzip-compressed" in str(errors["fake.ndjson.gz"])
    assert "cannot tell the format of" in str(errors["orders.xlsx"]) and "--format" in str(errors["orders.xlsx"])
    assert "does not exist" in str(errors["missing.csv"])
    assert "is not a Parquet file" in str(errors["fake.parquet"])
    assert "not a JSON array" in str(errors["object.json"]) and "--format ndjson" in str(errors["object.json"])
    assert "gzip data is corrupt or cut short" in str(errors["cut.ndjson.gz"])
    assert errors["good.ndjson"] is None and results[-1].landed == 5
    # the cut file was not recorded: sent again whole, it lands the rest (what landed is not doubled)
    (tmp_path / "cut.ndjson.gz").write_bytes(gzip.compress(good.read_bytes().replace(b"A-0", b"B-0")))
    [whole] = app.ingest_files("shop", [tmp_path / "cut.ndjson.gz"])
    assert whole.ok and whole.received == 5 and whole.landed + results[5].landed == 5
    # --format reads a file whatever its name; gzip is recognised by its bytes
    (tmp_path / "orders.txt").write_bytes(gzip.compress(good.read_bytes().replace(b"A-0", b"C-0")))
    [named] = app.ingest_files("shop", [tmp_path / "orders.txt"], fmt="jsonl")
    assert (named.format, named.landed) == ("ndjson", 5)


# -- the readers on their own -------------------------------------------------------------------


def test_a_json_array_is_split_into_its_elements_across_any_chunk_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = [
        {"order_id": "a,b]", "n": [1, {"x": "}{"}], "q": 'say "hi" \\ ok'},
        'text with [brackets], and \\"escapes\\"',
        12.5,
        [],
        {"é": "ünïcode ✓", "esc": "\u2028"},
        {"deeper than the one-call match": [[[[[[[[[[[["}"]]]]]]]]]]]]},
    ]
    text = "\ufeff[\n" + ",\n".join(json.dumps(d, ensure_ascii=False) for d in doc) + "\n]\n"
    path = tmp_path / "a.json"
    path.write_text(text, encoding="utf-8")
    for chunk in (1, 2, 3, 7, 1 << 20):
        monkeypatch.setattr(files, "CHUNK", chunk)
        items = list(FileSource.of(path).items())
        assert [orjson.loads(i.raw) for i in items] == doc, chunk
        assert [i.where for i in items] == [f"a.json line {n}" for n in range(2, 8)]


def test_csv_columns_nest_by_their_dots_and_empty_cells_are_absent(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        b'\xef\xbb\xbforder_id,customer.id,customer.address.city,note\nA-1,c-1,,"two\nlines"\n\nA-2,,Rio,\n'
    )
    items = list(FileSource.of(path).items())
    assert [i.value for i in items] == [
        {"order_id": "A-1", "customer": {"id": "c-1"}, "note": "two\nlines"},
        {"order_id": "A-2", "customer": {"address": {"city": "Rio"}}},
    ]
    assert [i.where for i in items] == ["c.csv line 2", "c.csv line 5"]
    clash = tmp_path / "clash.csv"
    clash.write_text("order_id,customer,customer.id\n")
    with pytest.raises(UnreadableFileError, match=r"both 'customer' and 'customer\.id'"):
        list(FileSource.of(clash).items())


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_a_huge_row_is_never_held_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(files, "MAX_PAYLOAD_BYTES", 1000)
    monkeypatch.setattr(files, "KEPT_BYTES", 100)
    monkeypatch.setattr(files, "CHUNK", chunk)
    path = tmp_path / "h.ndjson"
    path.write_bytes(b'{"a": 1}\n' + b"x" * 50_000 + b"\r\n" + b'{"b": 2}')
    a, huge, b = FileSource.of(path).items()
    assert (a.raw, b.raw, huge.raw) == (b'{"a": 1}', b'{"b": 2}', b"x" * 100)
    assert isinstance(huge.value, Unreadable) and huge.value.reason.startswith(
        "the line is 50,000 bytes; at most 1,000"
    )
    elements = tmp_path / "h.json"
    elements.write_bytes(b'[{"a": 1},\n  "' + b"y" * 50_000 + b'" , {"b": 2}]')
    a, huge, b = FileSource.of(elements).items()
    assert (a.raw, b.raw, huge.where, huge.raw) == (b'{"a": 1}', b'{"b": 2}', "h.json line 2", b'"' + b"y" * 99)
    assert isinstance(huge.value, Unreadable) and "the element is 50,002 bytes" in huge.value.reason


def test_batches_hold_at_most_500_items_and_a_bounded_number_of_bytes() -> None:
    from ordersync.land.intake import Item

    sizes = [len(b) for b in batched(Item(b"x") for _ in range(1_201))]
    assert sizes == [500, 500, 201]
    big = [len(b) for b in batched((Item(b"x" * 1000) for _ in range(10)), max_bytes=3000)]
    assert big == [3, 3, 3, 1]
