"""Every class of bad input, through Ordersync.land_records and `ordersync land`, on both warehouses:
the bad record is quarantined with a clear reason and its exact bytes, every good record of the
same batch lands, and the command exits 0. A hypothesis property mixes arbitrary bad records into
good ones: exactly the good ones land, exactly the bad ones are quarantined, whatever they hold."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import vtex_order_json
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.land.quarantine import quarantined_raw
from ordersync.tenants import Tenant
from support.cli import ordersync
from support.properties import examples

from .bad_inputs import AWKWARD, BAD, SQL, Awkward, Bad


def landed(app: Ordersync, tenant: Tenant) -> list[dict[str, Any]]:
    return app.wh.query_dicts(
        "SELECT * FROM cdp.orders_landing WHERE tenant_id = ? ORDER BY order_id", (tenant.tenant_id,)
    )


def quarantined(app: Ordersync, tenant: Tenant) -> list[dict[str, Any]]:
    return app.wh.query_dicts(
        "SELECT * FROM cdp.quarantine WHERE tenant_id = ? ORDER BY quarantine_id", (tenant.tenant_id,)
    )


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_a_bad_record_is_quarantined_and_its_batch_lands(
    shared_app: Ordersync, new_tenant: Callable[[], Tenant], bad: Bad
) -> None:
    tenant = new_tenant()
    result = shared_app.land_records(
        tenant.tenant_name, [vtex_order_json("good-1"), bad.raw, vtex_order_json("good-2")]
    )
    assert (result.received, result.landed, result.quarantined) == (3, 2, 1)
    assert [r["order_id"] for r in landed(shared_app, tenant)] == ["good-1", "good-2"]
    [row] = quarantined(shared_app, tenant)
    assert bad.reason in row["reason"], row["reason"]
    assert len(row["reason"]) < 300  # a huge field never makes a huge reason
    assert "\x00" not in row["reason"]
    assert row["source"] == "file" and row["resolved_at"] is None and row["retries"] == 0
    # stored byte for byte, whatever it held
    assert quarantined_raw(shared_app.wh, row["quarantine_id"]) == bad.raw
    assert row["raw_encoding"] == ("utf-8" if _plain_text(bad.raw) else "base64")


def _plain_text(raw: bytes) -> bool:
    try:
        return "\x00" not in raw.decode("utf-8")
    except UnicodeDecodeError:
        return False


@pytest.mark.parametrize("awkward", AWKWARD, ids=[a.name for a in AWKWARD])
def test_an_awkward_but_valid_record_lands_as_plain_text(
    shared_app: Ordersync, new_tenant: Callable[[], Tenant], awkward: Awkward
) -> None:
    tenant = new_tenant()
    result = shared_app.land_records(tenant.tenant_name, [awkward.raw, vtex_order_json("good-1")])
    assert (result.landed, result.quarantined) == (2, 0), result.reasons
    rows = {r["order_id"]: r for r in landed(shared_app, tenant)}
    assert set(rows) == {awkward.order_id, "good-1"}
    row = rows[awkward.order_id]
    assert awkward.check(row), row
    # the payload is kept exactly (a leading byte-order mark aside)
    assert row["payload"].encode("utf-8") == awkward.raw.removeprefix(b"\xef\xbb\xbf")


def test_sql_fragments_are_bound_never_run(shared_app: Ordersync, new_tenant: Callable[[], Tenant]) -> None:
    tenant = new_tenant()
    tricky = [
        vtex_order_json(f"{SQL}-{i}", status=s, clientProfileData={"email": s, "firstName": s})
        for i, s in enumerate(["'; DELETE FROM cdp.tenants; --", "\\'; SELECT 1; --", "?", "$1", "%s", "E'\\x00'"])
    ]
    result = shared_app.land_records(tenant.tenant_name, tricky)
    assert result.landed == len(tricky)
    assert shared_app.wh.scalar("SELECT count(*) FROM cdp.tenants") >= 1
    statuses = {r["status"] for r in landed(shared_app, tenant)}
    assert statuses == {orjson.loads(t)["status"] for t in tricky}


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, columns=80)


def test_ordersync_land_quarantines_every_bad_class_and_exits_0(warehouse_url: str, tmp_path: Path) -> None:
    # one JSON object per line: records holding a line break or blank are not single lines
    bad = [b for b in BAD if b"\n" not in b.raw and b"\r" not in b.raw and b.raw.strip()]
    good = [vtex_order_json(f"good-{i}", value=i * 100) for i in range(len(bad))]
    lines = [r for pair in zip(good, (b.raw for b in bad), strict=True) for r in pair]
    lines += [a.raw for a in AWKWARD]
    path = tmp_path / "orders.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Ordersync(load_settings(overrides={"warehouse": {"url": warehouse_url}})) as app:
        app.init()
        app.add_tenant("shop", account="shop", base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None)
    done = _cli(["--warehouse", warehouse_url, "land", "--tenant", "shop", str(path)], tmp_path)
    assert done.returncode == 0, done.stderr
    expected_landed = len(good) + len(AWKWARD)
    assert f"{len(lines)} records: {expected_landed} new versions landed, {len(bad)} quarantined" in done.stdout
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr
    listed = _cli(["--warehouse", warehouse_url, "quarantine", "list", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = orjson.loads(listed.stdout)
    assert len(rows) == len(bad)
    for row, b in zip(rows, bad, strict=True):
        assert b.reason in row["reason"], (b.name, row["reason"])


# -- "one bad record never fails a batch, whatever it holds" ----------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=30)
_good_docs = st.fixed_dictionaries(
    {
        "status": st.one_of(st.none(), _text, st.just(SQL)),
        "value": st.one_of(st.integers(0, 10**18 - 1), st.floats(0, 1e17, allow_nan=False)),
        "salesChannel": st.one_of(st.none(), _text, st.integers(0, 99)),
        "clientProfileData": st.one_of(
            st.none(),
            st.fixed_dictionaries({"email": _text, "firstName": _text, "lastName": st.one_of(st.none(), _text)}),
        ),
        "creationDate": st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2098, 1, 1)).map(
            lambda d: d.isoformat() + "Z"
        ),
    }
)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _good(index: int, doc: dict[str, Any]) -> bytes:
    return vtex_order_json(f"g{index}", **{**doc, "lastChange": doc["creationDate"]})


# Mutations that each make a good record bad, whatever else it holds.
_MUTATIONS: list[Callable[[dict[str, Any], Any], dict[str, Any]]] = [
    lambda d, x: {**d, "orderId": x if not isinstance(x, str) else None},
    lambda d, x: {**d, "orderId": " " * (1 + abs(hash(str(x))) % 3)},
    lambda d, x: {**d, "orderId": f"id\x00{x}"},
    lambda d, x: {**d, "orderId": "y" * 201},
    lambda d, x: {**d, "value": -1 - abs(x) if isinstance(x, int) and not isinstance(x, bool) else str(x)},
    lambda d, x: {**d, "value": 10**18 + (abs(x) if isinstance(x, int) else 0)},
    lambda d, x: {**d, "lastChange": x if not isinstance(x, str) else f"not a date {x}"},
    lambda d, x: {**d, "creationDate": None},
    lambda d, x: {**d, "clientProfileData": [x]},
    lambda d, x: {**d, "status": {"s": x}},
]


def _dumps(value: Any) -> bytes:
    # the standard library's encoder: integers of any size, unlike orjson
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


@st.composite
def _bad_record(draw: st.DrawFn, index: int) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "cut", "encoding"]))
    if kind == "bytes":
        # random bytes: never an object with a string orderId and two dates
        return draw(st.binary(max_size=60).filter(lambda b: not b.lstrip().startswith(b"{")))
    if kind == "json":
        value = draw(_json)
        if isinstance(value, dict):
            value["creationDate"] = draw(st.integers())
        return _dumps(value)
    doc = orjson.loads(_good(10_000 + index, draw(_good_docs)))
    if kind == "mutated":
        mutate = draw(st.sampled_from(_MUTATIONS))
        return _dumps(mutate(doc, draw(_json)))
    raw = orjson.dumps(doc)
    if kind == "cut":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    at = draw(st.integers(1, len(raw) - 2))
    return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"])) + raw[at:]


@st.composite
def _batch(draw: st.DrawFn) -> tuple[list[bytes], list[bool]]:
    goods = [_good(i, d) for i, d in enumerate(draw(st.lists(_good_docs, min_size=1, max_size=6)))]
    bads = [draw(_bad_record(i)) for i in range(draw(st.integers(1, 6)))]
    tagged = [(g, True) for g in goods] + [(b, False) for b in bads]
    order_ = draw(st.permutations(range(len(tagged))))
    return [tagged[i][0] for i in order_], [tagged[i][1] for i in order_]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_batch())
def test_one_bad_record_never_fails_a_batch(
    shared_app: Ordersync, new_tenant: Callable[[], Tenant], batch: tuple[list[bytes], list[bool]]
) -> None:
    records, is_good = batch
    tenant = new_tenant()
    result = shared_app.land_records(tenant.tenant_name, records)
    good = [r for r, ok in zip(records, is_good, strict=True) if ok]
    bad = [r for r, ok in zip(records, is_good, strict=True) if not ok]
    assert (result.received, result.landed, result.quarantined) == (len(records), len(good), len(bad)), result.reasons
    rows = landed(shared_app, tenant)
    assert sorted(r["payload"].encode("utf-8") for r in rows) == sorted(good)
    kept = [quarantined_raw(shared_app.wh, q["quarantine_id"]) for q in quarantined(shared_app, tenant)]
    assert kept == list(dict.fromkeys(bad))  # the same bytes are kept once
