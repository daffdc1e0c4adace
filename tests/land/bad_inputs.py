"""A catalogue of bad and awkward order records, shared by the landing tests.

BAD: records that must be quarantined, each with a fragment of the reason it must be given.
AWKWARD: records that look odd but are valid and must land, each with a check of what landed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factories import vtex_order_json

SQL = "x'); DROP TABLE cdp.orders_landing; --"


def raw_value(text: str, order_id: str = "raw-value") -> bytes:
    """An order whose value is written as `text` verbatim (NaN, 1e400: not what orjson writes)."""
    return vtex_order_json(order_id, value=0).replace(b'"value":0', b'"value":' + text.encode())


def client(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"email": "a@example.com", "firstName": "Ana", "lastName": "Lima", "userProfileId": "u"}
    base.update(fields)
    return base


def nested(depth: int) -> bytes:
    return (
        vtex_order_json("deep", clientProfileData=client(), storePreferencesData={"currencyCode": "BRL"})
        .replace(b'"clientProfileData":', b'"clientProfileData":' + b'{"a":' * depth, 1)
        .replace(b'"storePreferencesData"', b"}" * depth + b',"storePreferencesData"', 1)
    )


@dataclass(frozen=True)
class Bad:
    name: str
    raw: bytes
    reason: str


BAD: list[Bad] = [
    Bad("truncated_json", vtex_order_json("cut")[:-25], "not valid JSON"),
    Bad("empty", b"", "not valid JSON"),
    Bad("array", b"[1, 2]", "not an order object"),
    Bad("json_string", b'"an order"', "not an order object"),
    Bad("order_id_missing", vtex_order_json(orderId=None), "orderId is missing"),
    Bad("order_id_number", vtex_order_json(orderId=12345), "orderId 12345 is not a string"),
    Bad("order_id_object", vtex_order_json(orderId={"id": "x"}), "is not a string"),
    Bad("order_id_whitespace", vtex_order_json(" \t "), "empty or only white space"),
    Bad("order_id_nul", vtex_order_json("ab\x00cd"), "holds a control character"),
    Bad("order_id_escape", vtex_order_json("ab\x1b[2Jcd"), "holds a control character"),
    Bad("order_id_newline", vtex_order_json("ab\ncd"), "holds a control character"),
    Bad("order_id_too_long", vtex_order_json("x" * 201), "201 characters long; at most 200"),
    Bad("order_id_padded", vtex_order_json(" v1-01 "), "starts or ends with white space"),
    Bad("order_id_sql_too_long", vtex_order_json(SQL * 10), "characters long"),
    Bad("date_number", vtex_order_json("d1", lastChange=1714575941), "lastChange 1714575941 is not a date string"),
    Bad("date_object", vtex_order_json("d2", creationDate={"$date": "2024-05-01"}), "creationDate {'$date'"),
    Bad("date_list", vtex_order_json("d3", creationDate=["2024-05-01T00:00:00Z"]), "is not a date string"),
    Bad("date_words", vtex_order_json("d4", lastChange="last tuesday"), "lastChange 'last tuesday' is not an ISO-8601"),
    Bad("date_feb_31", vtex_order_json("d5", lastChange="2024-02-31T00:00:00Z"), "is not an ISO-8601"),
    Bad("date_year_0", vtex_order_json("d6", creationDate="0000-01-01T00:00:00Z"), "is not an ISO-8601"),
    Bad("date_year_99999", vtex_order_json("d7", creationDate="99999-01-01T00:00:00Z"), "is not an ISO-8601"),
    Bad("date_year_1900", vtex_order_json("d8", creationDate="1900-01-01T00:00:00Z"), "outside the years 1970-2099"),
    Bad("date_year_9999", vtex_order_json("d9", lastChange="9999-06-01T00:00:00Z"), "outside the years 1970-2099"),
    Bad("date_overflows_utc", vtex_order_json("d10", lastChange="9999-12-31T23:59:59-05:00"), "is not an ISO-8601"),
    Bad("date_without_time", vtex_order_json("d11", creationDate="2024-05-01"), "is not an ISO-8601"),
    Bad("date_bad_offset", vtex_order_json("d12", lastChange="2024-05-01T10:00:00+25:00"), "is not an ISO-8601"),
    Bad("date_empty", vtex_order_json("d13", lastChange=""), "lastChange '' is not an ISO-8601"),
    Bad("date_missing", vtex_order_json("d14", creationDate=None), "creationDate is missing"),
    Bad("date_nul", vtex_order_json("d15", lastChange="2024-05-01T10:00:00\x00Z"), "is not an ISO-8601"),
    Bad("value_string", vtex_order_json("v1", value="12,50"), "value '12,50' is not a number of cents"),
    Bad("value_bool", vtex_order_json("v2", value=True), "value True is not a number of cents"),
    Bad("value_null", vtex_order_json("v3", value=None), "value None is not a number of cents"),
    Bad("value_object", vtex_order_json("v4", value={"amount": 1}), "is not a number of cents"),
    Bad("value_nan", raw_value("NaN"), "not valid JSON"),
    Bad("value_infinity", raw_value("Infinity"), "not valid JSON"),
    Bad("value_1e300", vtex_order_json("v5", value=1e300), "value 1e+300 is too large"),
    Bad("value_400_digits", raw_value("9" * 400), "is too large"),
    Bad("value_1e400", raw_value("1e400"), "out of range"),
    Bad("value_just_too_large", vtex_order_json("v6", value=10**14), "is too large"),
    Bad("value_fraction_of_a_cent", vtex_order_json("v8", value=1299.5), "has a fraction of a cent"),
    Bad(
        "currency_not_iso", vtex_order_json("cur1", storePreferencesData={"currencyCode": "R$"}), "not a currency code"
    ),
    Bad(
        "currency_formula",
        vtex_order_json("cur2", storePreferencesData={"currencyCode": "=1+1"}),
        "not a currency code",
    ),
    Bad("order_id_bidi", vtex_order_json("ab\u202ecd"), "a bidi control character (\\u202e"),
    Bad("order_id_zero_width", vtex_order_json("ab\u200bcd"), "a zero-width character (\\u200b"),
    Bad("value_negative", vtex_order_json("v7", value=-100), "value -100 is negative"),
    Bad(
        "client_profile_list",
        vtex_order_json("c1", clientProfileData=[{"email": "a@b.c"}]),
        "clientProfileData is a list",
    ),
    Bad("client_profile_string", vtex_order_json("c2", clientProfileData="maria"), "clientProfileData is a string"),
    Bad("store_prefs_list", vtex_order_json("c3", storePreferencesData=["BRL"]), "storePreferencesData is a list"),
    Bad(
        "status_object",
        vtex_order_json("s1", status={"name": "invoiced"}),
        "status {'name': 'invoiced'} is not a string",
    ),
    Bad("status_bool", vtex_order_json("s2", status=False), "status False is not a string"),
    Bad("email_list", vtex_order_json("s3", clientProfileData=client(email=["a@b.c"])), "clientProfileData.email"),
    Bad("huge_name", vtex_order_json("h1", clientProfileData=client(firstName="n" * 5000)), "5,000 characters long"),
    Bad("huge_status", vtex_order_json("h2", status="s" * 100_000), "status is 100,000 characters long"),
    Bad("body_5mb", vtex_order_json("big", padding="p" * (5 * 1024 * 1024)), "bytes; at most 4,194,304"),
    Bad(
        "latin1_name",
        vtex_order_json("u1", clientProfileData=client(firstName="Maria")).replace(b"Maria", b"Mar\xeda"),
        "not valid UTF-8 (byte 0xed at offset",
    ),
    Bad("non_utf8_unknown_field", vtex_order_json("u2", note="x").replace(b'"x"', b'"\xff\xfe"'), "not valid UTF-8"),
    Bad(
        "raw_nul_byte", vtex_order_json("n1", status="invoiced").replace(b"invoiced", b"invo\x00iced"), "not valid JSON"
    ),
    Bad("lone_surrogate", vtex_order_json("n2").replace(b'"n2"', b'"\\ud800"'), "not valid JSON"),
    Bad("nested_too_deep", nested(100_000), "nested too deeply"),
    Bad("trailing_garbage", vtex_order_json("t1") + b" trailing", "not valid JSON"),
    Bad("two_objects", vtex_order_json("t2") + vtex_order_json("t3"), "not valid JSON"),
    Bad("random_bytes", bytes(range(256)), "UTF-8"),
]


@dataclass(frozen=True)
class Awkward:
    name: str
    raw: bytes
    order_id: str
    check: Callable[[dict[str, Any]], bool]


AWKWARD: list[Awkward] = [
    Awkward(
        "sql_in_every_text_field",
        vtex_order_json(
            SQL,
            status=SQL,
            salesChannel=SQL,
            clientProfileData=client(email=SQL, firstName=SQL, lastName=SQL, userProfileId=SQL),
        ),
        SQL,
        lambda r: r["status"] == SQL and r["customer_email"] == SQL,
    ),
    Awkward(
        "lower_case_currency_code",
        vtex_order_json("lower-brl", storePreferencesData={"currencyCode": "brl"}),
        "lower-brl",
        lambda r: r["currency_code"] == "BRL",
    ),
    Awkward(
        "nul_escapes_in_free_text",
        vtex_order_json(
            "nul-text", status="inv\x00oiced", clientProfileData=client(firstName="\x00", email="a\x00@b.c")
        ),
        "nul-text",
        lambda r: r["status"] == "invoiced" and r["customer_name"] == "Lima" and r["customer_email"] == "a@b.c",
    ),
    Awkward(
        "duplicate_keys_last_wins",
        vtex_order_json("dup", value=100).replace(b'"value":100', b'"value":100,"value":250'),
        "dup",
        lambda r: str(r["total_value"]) == "2.50",
    ),
    Awkward(
        "date_without_zone_is_utc",
        vtex_order_json("no-zone", creationDate="2024-05-01T02:32:10", lastChange="2024-05-01 15:05:41"),
        "no-zone",
        lambda r: (
            r["creation_date"].isoformat().startswith("2024-05-01T02:32:10")
            and r["creation_date"].utcoffset().total_seconds() == 0
        ),
    ),
    Awkward("zero_total", vtex_order_json("zero", value=0), "zero", lambda r: str(r["total_value"]) == "0.00"),
    Awkward("minus_zero_total", vtex_order_json("-0", value=-0.0), "-0", lambda r: str(r["total_value"]) == "0.00"),
    Awkward(
        "largest_total",
        vtex_order_json("max", value=10**14 - 1),
        "max",
        lambda r: str(r["total_value"]) == "999999999999.99",
    ),
    Awkward(
        "byte_order_mark",
        b"\xef\xbb\xbf" + vtex_order_json("bom", status="invoiced"),
        "bom",
        lambda r: r["status"] == "invoiced",
    ),
    Awkward(
        "unicode_order_id",
        vtex_order_json("pedido-ñ-日本-🛒", status="invoiced"),
        "pedido-ñ-日本-🛒",
        lambda r: r["status"] == "invoiced",
    ),
    Awkward(
        "integer_sales_channel",
        vtex_order_json("int-sc", salesChannel=1),
        "int-sc",
        lambda r: r["sales_channel"] == "1",
    ),
    Awkward(
        "no_customer",
        vtex_order_json("anon", clientProfileData=None, storePreferencesData=None),
        "anon",
        lambda r: r["customer_email"] is None and r["currency_code"] is None,
    ),
    Awkward(
        "body_3mb",
        vtex_order_json("big-ok", padding="p" * (3 * 1024 * 1024)),
        "big-ok",
        lambda r: len(r["payload"]) > 3 * 1024 * 1024,
    ),
    Awkward(
        "control_characters_in_free_text",
        vtex_order_json("ctl", clientProfileData=client(firstName="Ana\tMaria\x1b", lastName="\u2028")),
        "ctl",
        lambda r: r["customer_name"] == "Ana\tMaria\x1b \u2028",
    ),
]
