"""Lists a page at a time: `{"data": [...], "next": CURSOR_OR_NULL}`, with keyset cursors.

A cursor is the last item's sort key, JSON in URL-safe base64 (opaque to a client). The next page
holds the items whose key comes strictly after it in the list's order, so a cursor stays valid
while rows are added: a new row lands before the cursor (a newest-first list) or after it (an
oldest-first one), and no row is lost or repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from ordersync.errors import ConfigError

#: ?limit= when none is given, and the most it may be
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: a cursor is a few sort-key values; a longer one was not made here
MAX_CURSOR = 2000

T = TypeVar("T")

#: a sort key: a tuple of JSON values (strings, numbers); None sorts before any other value
Key = tuple[Any, ...]


@dataclass
class Page:
    data: list[dict[str, Any]]
    next: str | None = None
    #: what the list is about, beside the items (revenue's `as_of`)
    context: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"data": self.data, "next": self.next, **self.context}


def encode(key: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Key | None:
    """The key a cursor holds; ConfigError for one this list did not make."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, list):
            raise ValueError("not a key")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _not_ours() from None
    return tuple(value)


def unpack(after: Key, *parsers: Callable[[Any], Any]) -> tuple[Any, ...]:
    """A cursor's key parsed value by value (a list that pages in SQL binds them); ConfigError for a
    key this list did not make."""
    if len(after) != len(parsers):
        raise _not_ours()
    try:
        return tuple(parse(value) for parse, value in zip(parsers, after, strict=True))
    except (ValueError, TypeError, ArithmeticError):
        raise _not_ours() from None


def instant(value: Any) -> datetime:
    """A moment a cursor holds (ISO 8601 with its offset), for `unpack`."""
    found = datetime.fromisoformat(value)
    if found.tzinfo is None:
        raise ValueError("a moment without its offset")
    return found


def money(value: Any) -> Decimal:
    """An exact amount a cursor holds (a NUMERIC(20, 2) as text), for `unpack`."""
    found = Decimal(value)
    if not found.is_finite() or abs(found) >= _MONEY_BOUND or found != found.quantize(_CENT):
        raise ValueError("not an amount of this list")
    return found


_CENT, _MONEY_BOUND = Decimal("0.01"), Decimal(10) ** 18


def _not_ours() -> ConfigError:
    return ConfigError("the cursor is not one this list gave: start again without ?cursor=")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"limit must be 1 to {MAX_LIMIT:,}; it is {limit}")
    return limit


def _sortable(key: Key) -> tuple[tuple[int, Any], ...]:
    """A key Python can order whatever its Nones: None before every value."""
    return tuple((0, 0) if v is None else (1, v) for v in key)


def keyset(
    items: Sequence[T],
    key: Callable[[T], Key],
    after: Key | None,
    limit: int,
    *,
    newest_first: bool = False,
    shape: Callable[[T], dict[str, Any]] | None = None,
) -> Page:
    """One page of `items` in the order of `key` (descending when `newest_first`): those after the
    cursor's key, at most `limit`, and the cursor of the next page when more remain. Items that are
    not yet the page's dicts are shaped by `shape`, the page's only: a long answer pays for one page."""
    check_limit(limit)
    ordered = sorted(items, key=lambda i: _sortable(key(i)), reverse=newest_first)
    if after is not None:
        mark = _sortable(after)
        ordered = [i for i in ordered if (_sortable(key(i)) < mark if newest_first else _sortable(key(i)) > mark)]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    data = [shape(i) for i in chosen] if shape is not None else [cast(dict[str, Any], i) for i in chosen]
    return Page(data, encode(key(chosen[-1])) if more else None)


def every_item(fetch: Callable[[str | None], Page]) -> list[dict[str, Any]]:
    """The data of every page, the cursor of each fetching the next (what the CLI prints)."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        out.extend(page.data)
        if page.next is None:
            return out
        cursor = page.next
