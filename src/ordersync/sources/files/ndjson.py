"""NDJSON (JSON lines): one item per non-blank line, its bytes parsed as they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ordersync.land.intake import Item
from ordersync.sources.files import reading
from ordersync.sources.files.reading import Unreadable


def ndjson_items(stream: IO[bytes], name: str) -> Iterator[Item]:
    for line in reading.lines(stream):
        where = f"{name} line {line.number}"
        if line.too_long is not None:
            yield Item(line.data, where, Unreadable(reading.too_long("the line", line.too_long)))
        elif line.data.strip():
            yield Item(line.data, where)
