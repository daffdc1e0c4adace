"""The rules for text from outside (ordersync.text): what ids refuse, how text is printed, how CSV
cells are written, which tenant names and token labels are taken."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.errors import ConfigError
from ordersync.text import (
    BIDI,
    ZERO_WIDTH,
    check_label,
    check_tenant_name,
    csv_cell,
    printable,
    storable,
    unsafe_character,
    without_nul,
)
from support.properties import examples


def test_every_invisible_or_reordering_character_is_named() -> None:
    for char in "\u200b\u200c\u200d\u2060\ufeff":
        assert str(unsafe_character(f"A{char}")).startswith("a zero-width character")
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert str(unsafe_character(f"A{char}")).startswith("a bidi control character")
    for char in "\x00\x1b\x7f\x85\u2028":
        assert str(unsafe_character(f"A{char}")).startswith("a control character")
    assert unsafe_character("pedido-ñ-日本-🛒 e\u0301") is None  # letters, marks and emoji are fine


def test_printable_escapes_what_acts_on_a_terminal() -> None:
    assert printable("paid\x1b[2J\x1b]0;owned\x07") == "paid\\x1b[2J\\x1b]0;owned\\x07"
    assert printable("abc\u202efdp.exe") == "abc\\u202efdp.exe"
    assert printable("a\u200bb\nc\td\r") == "a\\u200bb\\x0ac\\x09d\\x0d"
    assert printable("[bold]ñandú 🛒[/bold]") == "[bold]ñandú 🛒[/bold]"  # markup is the printer's job


@settings(max_examples=examples(300))
@given(st.text())
def test_printable_text_holds_nothing_unsafe_and_plain_text_is_unchanged(text: str) -> None:
    shown = printable(text)
    assert unsafe_character(shown) is None
    if unsafe_character(text) is None:
        assert shown == text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tBRL", "'\tBRL"),
        ("\rBRL", "'\rBRL"),
        ("BRL", "BRL"),
        ("a=b", "a=b"),
        (None, ""),
        (Decimal("-12.50"), Decimal("-12.50")),  # a number ordersync computed stays a number
        (-3, -3),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_an_escaped_cell_reads_back_as_the_text_with_its_quote() -> None:
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell('=1+2,"x"'), csv_cell(Decimal("-1.00"))])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ['\'=1+2,"x"', "-1.00"]


@pytest.mark.parametrize("name", ["petbaar", "mobile-app", "store_2", "9shop", "a", "x" * 63])
def test_tenant_names_that_follow_the_rule(name: str) -> None:
    assert check_tenant_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a/b", "Shop", "-shop", "_shop", "x" * 64, "shop 2", "tienda-ñandú", "a\x1b[2J", "a\u202e", "x" * 100_000],
)
def test_tenant_names_that_break_the_rule_are_refused_saying_it(name: str) -> None:
    with pytest.raises(ConfigError, match="lowercase letters, digits, '-' and '_', 1-63 characters") as caught:
        check_tenant_name(name)
    assert len(str(caught.value)) < 300


def test_labels_are_bounded_plain_text() -> None:
    assert check_label("mobile app (iOS) ñ") == "mobile app (iOS) ñ"
    assert check_label("") is None and check_label(None) is None
    assert check_label("x" * 100) == "x" * 100
    with pytest.raises(ConfigError, match="101 characters long; at most 100"):
        check_label("x" * 101)
    for bad in ("sdk\x1b[31m", "sdk\u202e", "s\u200bdk", "two\nlines"):
        with pytest.raises(ConfigError, match="the label holds a"):
            check_label(bad)


def test_the_rule_sets_are_what_the_docs_name() -> None:
    assert ZERO_WIDTH == "\u200b\u200c\u200d\u2060\ufeff"
    assert set(BIDI) == set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def test_storable_writes_nul_out_and_cuts_with_a_mark() -> None:
    assert storable(None) is None
    assert storable("a\x00b") == "a\\x00b"
    assert storable("x" * 10, 10) == "x" * 10
    assert storable("x" * 11, 10) == "x" * 7 + "..."
    assert storable("\x00" * 4, 10) == "\\x00\\x0..."  # written out first, then cut


def test_without_nul_drops_it() -> None:
    assert without_nul("a\x00b\x00") == "ab"
    assert without_nul("plain") == "plain"
