"""A customer's document, its type and phone are read as a version lands: raw, trimmed text, and a bad
one never refuses the order (the customers room validates them)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import push_event, vtex_order
from ordersync.land.records import MAX_TEXT, identifier_field, parse_order
from ordersync.sources.push.events import parse_value
from support.properties import examples

SP = ZoneInfo("America/Sao_Paulo")

#: Payload hashes from before the identifiers were read: reading them changes no version.
VTEX_HASH = "f0dd8f1d7fe4ea51160c99bd4ede8256"
EVENT_HASH = "9785bca685b1323c4fd5f9cc1e4c6c01"


def vtex_body() -> dict[str, Any]:
    return vtex_order(
        "v-ids",
        clientProfileData={
            "email": "ana@example.com",
            "firstName": "Ana",
            "userProfileId": "u-1",
            "document": " 529.982.247-25 ",
            "documentType": "cpf",
            "phone": "+5511987654321",
        },
    )


def event_body() -> dict[str, Any]:
    return push_event(
        "e-ids",
        customer={"id": "c-1", "document": "20-12345678-6", "document_type": "cuit", "phone": " 011 4321-0000"},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  529.982.247-25\t\n", "529.982.247-25"),
        (52998224725, "52998224725"),
        ("\x00123\x00", "123"),
        ("\u00a0123", "\u00a0123"),  # only ASCII white space is trimmed (the migration's SQL trims the same)
        ("Ana\u202e1", "Ana\u202e1"),  # kept as sent, as the order's other customer text
        ("x" * MAX_TEXT, "x" * MAX_TEXT),
        ("x" * (MAX_TEXT + 1), None),
        ("   ", None),
        ("", None),
        (None, None),
        (True, None),
        (1.5, None),
        ([1], None),
        ({"number": "1"}, None),
    ],
)
def test_identifier_rule(value: Any, expected: str | None) -> None:
    assert identifier_field(value) == expected


def test_a_vtex_body_and_an_event_carry_their_identifiers_with_unchanged_hashes() -> None:
    v = parse_order(orjson.dumps(vtex_body()), SP)
    assert (v.customer_document, v.customer_document_type, v.customer_phone) == (
        "529.982.247-25",
        "cpf",
        "+5511987654321",
    )
    assert v.payload_hash == VTEX_HASH
    e = parse_value(event_body(), SP)
    assert (e.customer_document, e.customer_document_type, e.customer_phone) == (
        "20-12345678-6",
        "cuit",
        "011 4321-0000",
    )
    assert e.payload_hash == EVENT_HASH
    bare = parse_value(push_event("e-none"), SP)
    assert (bare.customer_document, bare.customer_document_type, bare.customer_phone) == (None, None, None)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=examples(60))
@given(document=_ANY_JSON, kind=_ANY_JSON, phone=_ANY_JSON)
def test_no_identifier_value_refuses_an_order(document: Any, kind: Any, phone: Any) -> None:
    body = vtex_order("v-any", clientProfileData={"document": document, "documentType": kind, "phone": phone})
    v = parse_order(orjson.dumps(body), SP)
    e = parse_value(push_event("e-any", customer={"document": document, "document_type": kind, "phone": phone}), SP)
    for got, sent in ((v.customer_document, document), (v.customer_document_type, kind), (e.customer_phone, phone)):
        assert got == identifier_field(sent)
        assert got is None or (got == got.strip(" \t\n\v\f\r") and got and "\x00" not in got)
