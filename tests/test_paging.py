"""Keyset pages: a walk sees every row that was there when it began exactly once, however many rows
are added between its pages; cursors are opaque and checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordersync.errors import ConfigError
from ordersync.paging import Page, check_limit, decode, encode, every_item, instant, keyset, money, unpack

Row = dict[str, object]


def _key(row: Row) -> tuple[object, ...]:
    return (row["at"], row["id"])


@given(
    start=st.lists(st.tuples(st.integers(0, 20), st.none() | st.integers(0, 5)), max_size=40),
    added=st.lists(st.lists(st.tuples(st.integers(-5, 25), st.none() | st.integers(0, 5)), max_size=4), max_size=20),
    limit=st.integers(1, 7),
    newest_first=st.booleans(),
)
def test_a_walk_loses_and_repeats_nothing_while_rows_are_added(
    start: list[tuple[int, int | None]], added: list[list[tuple[int, int | None]]], limit: int, newest_first: bool
) -> None:
    rows: list[Row] = [{"at": a, "id": f"r{i}", "x": x} for i, (a, x) in enumerate(start)]
    first = [r["id"] for r in rows]
    batches = iter(added)
    seen: list[object] = []
    cursor = None
    while True:
        page = keyset(rows, _key, decode(cursor), limit, newest_first=newest_first)
        assert len(page.data) <= limit
        seen += [r["id"] for r in page.data]
        if page.next is None:
            break
        cursor = page.next
        rows += [{"at": a, "id": f"n{len(rows)}-{j}", "x": x} for j, (a, x) in enumerate(next(batches, []))]
    assert len(seen) == len(set(seen))  # nothing repeated
    assert set(first) <= set(seen)  # nothing that was there is lost


def test_every_item_follows_the_cursors() -> None:
    rows: list[Row] = [{"at": i, "id": str(i)} for i in range(5)]
    assert every_item(lambda c: keyset(rows, _key, decode(c), 2)) == rows
    assert Page([], None, {"as_of": "t"}).body() == {"data": [], "next": None, "as_of": "t"}


def test_shape_makes_the_pages_items_only_and_the_cursor_still_follows_the_key() -> None:
    shaped: list[int] = []

    def shape(n: int) -> Row:
        shaped.append(n)
        return {"n": n}

    numbers = [5, 3, 9, 1, 7]
    first = keyset(numbers, lambda n: (n,), None, 2, shape=shape)
    assert first.data == [{"n": 1}, {"n": 3}] and shaped == [1, 3]
    rest = keyset(numbers, lambda n: (n,), decode(first.next), 2, shape=shape)
    assert rest.data == [{"n": 5}, {"n": 7}] and shaped == [1, 3, 5, 7]


@pytest.mark.parametrize("bad", ["%%%", "bm90IGEga2V5", encode(("x",)) + "!", "A" * 3000])
def test_a_cursor_not_made_here_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="cursor"):
        decode(bad)


def test_limits() -> None:
    assert check_limit(1000) == 1000
    for bad in (0, 1001):
        with pytest.raises(ConfigError, match="limit must be 1 to 1,000"):
            check_limit(bad)


def test_a_key_a_list_binds_is_parsed_value_by_value() -> None:
    assert unpack(("2026-12-01T10:00:00+00:00", "12.50", "k"), instant, money, str)[1:] == (money("12.50"), "k")
    bad = [("x",), ("2026-12-01T10:00:00", "1.00", "k"), ("2026-12-01T10:00:00+00:00", "1.001", "k")]
    bad += [("2026-12-01T10:00:00+00:00", v, "k") for v in ("NaN", "Infinity", "1e30", "abc", None)]
    for key in bad:
        with pytest.raises(ConfigError, match="cursor"):
            unpack(key, instant, money, str)
