"""CSV: a header row, then one item per record; dotted column names nest (customer.id), empty cells
are absent, and a record that cannot be read still becomes an item with its reason."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ordersync.errors import UnreadableFileError
from ordersync.land.intake import Item
from ordersync.land.records import BOM
from ordersync.sources.files import reading
from ordersync.sources.files.reading import Unreadable

# A field may be as long as a payload (the csv module's default limit is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), reading.MAX_PAYLOAD_BYTES))


class _CsvFeed:
    """Hands csv.reader the file's lines as text, keeping each record's raw bytes and what was
    wrong with its lines (not UTF-8, too long), so a bad row becomes an item with its reason."""

    def __init__(self, lines: Iterator[reading.Line]) -> None:
        self._lines = lines
        self.number = 0
        self.raw: list[bytes] = []
        self.problem: str | None = None

    def start_record(self) -> int:
        self.raw, self.problem = [], None
        return self.number + 1

    def __iter__(self) -> _CsvFeed:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number = line.number
        data = line.data.removeprefix(BOM) if line.number == 1 else line.data
        self.raw.append(data + line.end)
        if line.too_long is not None:
            self.problem = self.problem or reading.too_long(f"the row's line {line.number}", line.too_long)
            return "\n"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte {data[exc.start]:#04x} at offset {exc.start} of line {line.number}"
            self.problem = self.problem or f"the row is not valid UTF-8 ({where})"
            text = data.decode("utf-8", errors="replace")
        # the line break as it was: a quoted field keeps it
        return text + (line.end.decode("ascii") or "\n")


def csv_items(stream: IO[bytes], path: Path) -> Iterator[Item]:
    feed = _CsvFeed(reading.lines(stream))
    reader = csv.reader(feed, strict=True)
    columns: list[tuple[str, ...]] | None = None
    while True:
        first = feed.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if columns is None:
                raise UnreadableFileError(f"{path}: the header row is not valid CSV ({exc})") from None
            row, feed.problem = [], feed.problem or f"the row is not valid CSV ({exc})"
        raw = b"".join(feed.raw)
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
        if columns is None:
            if feed.problem is not None:
                raise UnreadableFileError(f"{path}: the header row cannot be read: {feed.problem}")
            if row:
                columns = _header(row, path)
            continue
        where = f"{path.name} line {first}"
        if feed.problem is not None:
            yield Item(raw, where, Unreadable(feed.problem))
        elif not row:
            continue  # a blank line
        elif len(row) != len(columns):
            reason = f"the row has {len(row)} fields; the header has {len(columns)}"
            yield Item(raw, where, Unreadable(reason))
        else:
            value = _nest(columns, row)
            yield Item(orjson.dumps(value), where, value)


def _header(row: list[str], path: Path) -> list[tuple[str, ...]]:
    """Column names as key paths: `customer.id` is the key id of the object customer."""
    columns = [tuple(name.strip().split(".")) for name in row]
    seen: set[tuple[str, ...]] = set()
    for name, keys in zip(row, columns, strict=True):
        if not all(keys):
            raise UnreadableFileError(
                f"{path}: the header's column {name!r} is not a name (nor names joined by dots, like customer.id)"
            )
        if keys in seen:
            raise UnreadableFileError(f"{path}: the header names the column {name!r} twice")
        seen.add(keys)
    for keys in columns:
        for n in range(1, len(keys)):
            if keys[:n] in seen:
                raise UnreadableFileError(
                    f"{path}: the header has both {'.'.join(keys[:n])!r} and {'.'.join(keys)!r}; "
                    f"{'.'.join(keys[:n])!r} cannot be a value and an object at once"
                )
    return columns


def _nest(columns: list[tuple[str, ...]], row: list[str]) -> dict[str, Any]:
    """The row as an object: empty cells are absent, values stay text."""
    value: dict[str, Any] = {}
    for keys, cell in zip(columns, row, strict=True):
        if cell == "":
            continue
        target = value
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = cell
    return value
