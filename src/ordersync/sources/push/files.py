"""Batch files of order items, read into Items: NDJSON, a JSON array, CSV and Parquet, each
optionally gzipped, streamed so that a file of any size is read in bounded memory.

Every item says where it came from ("orders.csv line 12", "orders.parquet row 7"), which its
quarantine reason then names. A row that cannot be read (a broken CSV row, bytes that are not
UTF-8, a line longer than any payload may be) still becomes an item, one the parser quarantines
with the reason, so one bad row never fails its file. Only a file that cannot be read at all
(unknown format, named .gz but not gzip, not Parquet, cut short inside its compression) raises
UnreadableFileError.

The same order event lands as the same version whichever format carried it: JSON lines and array
elements are parsed from their bytes, CSV and Parquet rows from the value read (dotted CSV columns
nest, Parquet structs become objects, timestamps ISO-8601 strings with their zone), and the event
parser writes every event one canonical way. A VTEX get-order body in a JSON file lands byte for
byte, as `ordersync land` always landed them.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import orjson

from ordersync.errors import BadRecordError, ConfigError, UnreadableCellError, UnreadableFileError
from ordersync.land.intake import Item
from ordersync.land.records import MAX_PAYLOAD_BYTES, Version, parse_order, payload_text
from ordersync.sources.push.events import parse_value

if TYPE_CHECKING:
    import pyarrow as pa

#: The formats by name; --format takes these (jsonl is another name for ndjson).
FORMATS = ("ndjson", "json", "csv", "parquet")
_ALIASES = {"jsonl": "ndjson"}
_EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
#: Items landed per transaction, and the bytes a batch holds at most (many large rows make
#: smaller batches, so memory stays bounded whatever the rows hold).
BATCH_ITEMS = 500
BATCH_BYTES = 32 * 1024 * 1024
#: A row longer than any payload may be cannot land: only its first bytes are kept in quarantine.
KEPT_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_PARQUET_MAGIC = b"PAR1"
OnRead = Callable[[int], None]


@dataclass(frozen=True)
class Unreadable:
    """The value of an item whose row could not be read: the parser quarantines it with this reason."""

    reason: str


def format_named(name: str) -> str:
    fmt = _ALIASES.get(name.lower(), name.lower())
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; use one of: {', '.join(FORMATS)} (or jsonl)")
    return fmt


@dataclass(frozen=True)
class FileSource:
    """One file to read: its format, whether it is gzipped, its size on disk."""

    path: Path
    format: str
    gzipped: bool
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def of(cls, path: Path, fmt: str | None = None) -> FileSource:
        """Check that `path` can be read as `fmt` (default: from its name, after any .gz);
        UnreadableFileError says why not."""
        try:
            if path.is_dir():
                raise UnreadableFileError(f"{path} is a directory; give the files in it (such as {path}/*.ndjson)")
            with path.open("rb") as fh:
                head = fh.read(4)
                size = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            raise UnreadableFileError(f"{path} does not exist; check the path") from None
        except OSError as exc:
            raise UnreadableFileError(f"{path} cannot be read ({exc.strerror or exc}); check its permissions") from None
        named_gz = path.suffix.lower() == ".gz"
        if named_gz and not head.startswith(_GZIP_MAGIC):
            raise UnreadableFileError(
                f"{path} is named .gz but is not gzip-compressed; rename it without .gz, or compress it with gzip"
            )
        # Compressed without saying so: the magic bytes and the deflate method tell.
        gzipped = named_gz or head.startswith(_GZIP_MAGIC + b"\x08")
        if fmt is None:
            stem = path.with_suffix("") if named_gz else path
            found = _EXTENSIONS.get(stem.suffix.lower())
            if found is None:
                raise UnreadableFileError(
                    f"cannot tell the format of {path} from its name; name it .ndjson, .jsonl, .json, .csv or "
                    ".parquet (each may end in .gz), or pass --format"
                )
            fmt = found
        else:
            fmt = format_named(fmt)
        if fmt == "parquet" and not gzipped and size > 0 and head != _PARQUET_MAGIC:
            raise UnreadableFileError(_not_parquet(path, "no PAR1 marker at its start"))
        return cls(path, fmt, gzipped, size)

    def items(self, on_read: OnRead | None = None) -> Iterator[Item]:
        """Every item of the file, in order; `on_read` is told the bytes read from disk as reading
        goes. Raises UnreadableFileError when the file turns out unreadable part-way."""
        counted = on_read or (lambda n: None)
        try:
            if self.format == "parquet":
                yield from self._parquet(counted)
                return
            with _open_stream(self.path, self.gzipped, counted) as stream:
                if self.format == "ndjson":
                    yield from _ndjson_items(stream, self.name)
                elif self.format == "json":
                    yield from _JsonArray(stream, self.path).items()
                else:
                    yield from _csv_items(stream, self.path)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise UnreadableFileError(
                f"{self.path}: the gzip data is corrupt or cut short ({exc}); the rows before that point were "
                "read. Send the whole file again and ingest it again (what already landed does not land twice)"
            ) from None
        except OSError as exc:
            raise UnreadableFileError(f"{self.path} could not be read to its end ({exc.strerror or exc})") from None

    def batches(self, on_read: OnRead | None = None, size: int = BATCH_ITEMS) -> Iterator[list[Item]]:
        return batched(self.items(on_read), size)

    def _parquet(self, on_read: OnRead) -> Iterator[Item]:
        if not self.gzipped:
            yield from _parquet_items(self.path, self.name, self.size, on_read)
            return
        # Parquet is read from its footer backwards: decompress to a temporary file first.
        with tempfile.NamedTemporaryFile(prefix="ordersync-", suffix=".parquet") as tmp:
            with _open_stream(self.path, True, on_read) as stream:
                shutil.copyfileobj(stream, tmp, _CHUNK)
            tmp.flush()
            tmp.seek(0)
            if tmp.read(4) != _PARQUET_MAGIC:
                raise UnreadableFileError(_not_parquet(self.path, "no PAR1 marker at its start once decompressed"))
            yield from _parquet_items(Path(tmp.name), self.name, 0, lambda n: None)


def batched(items: Iterable[Item], size: int = BATCH_ITEMS, max_bytes: int = BATCH_BYTES) -> Iterator[list[Item]]:
    """Items in lists of at most `size` items and about `max_bytes` bytes."""
    batch: list[Item] = []
    held = 0
    for item in items:
        batch.append(item)
        held += len(item.raw)
        if len(batch) >= size or held >= max_bytes:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def parse_file_item(item: Item, tz: ZoneInfo) -> Version:
    """The Intake parser for file items. A row that could not be read is quarantined with its
    reason; a decoded row (CSV, Parquet) is an order event or a VTEX body by its keys. A JSON line
    or array element that is a VTEX get-order body (an object with orderId and no order_id) is
    parsed as `ordersync land` always did, kept byte for byte; so are bytes that are not JSON at
    all, with that parser's reasons; anything else is an order event or says why it is not one."""
    if isinstance(item.value, Unreadable):
        raise BadRecordError(item.value.reason)
    if item.value is not None:
        return parse_value(item.value, tz)
    data = item.raw.removeprefix(_BOM)
    # A VTEX body (its key there, no event key, no escape that could spell either) is decoded once,
    # by its own parser.
    if b"order_id" in data or b"orderId" not in data or b"\\u" in data:
        payload_text(data)  # size and UTF-8, with their own reasons
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if b"order_id" in data:  # an order event (the VTEX parser would say its orderId is missing)
                raise BadRecordError(f"item is not valid JSON ({exc})") from None
            return parse_order(item.raw, tz)
        if not isinstance(value, dict) or "order_id" in value or "orderId" not in value:
            return parse_value(value, tz, data)
    return parse_order(item.raw, tz)


# -- reading bytes ------------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    """A file read through, telling `on_read` each block's size (the progress bar's bytes)."""

    def __init__(self, fh: io.FileIO, on_read: OnRead) -> None:
        self._fh = fh
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer) or 0
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


@contextmanager
def _open_stream(path: Path, gzipped: bool, on_read: OnRead) -> Iterator[IO[bytes]]:
    with io.BufferedReader(_Counted(path.open("rb", buffering=0), on_read), buffer_size=_CHUNK) as raw:
        if not gzipped:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield cast(IO[bytes], unzipped)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    #: the line without its line break; only the first KEPT_BYTES of a line that is too long
    data: bytes
    #: the length of a line too long to land, else None
    too_long: int | None = None
    #: the line break that ended it (b"\r\n", b"\n", or b"" at the end of the file)
    end: bytes = b""


def _lines(stream: IO[bytes]) -> Iterator[_Line]:
    """Physical lines, never holding more than one payload's worth of a line in memory."""
    limit = MAX_PAYLOAD_BYTES + 3  # a payload at the limit, a byte-order mark's worth, and "\r\n"
    number = 0
    while True:
        line = stream.readline(limit)
        if not line:
            return
        number += 1
        if len(line) == limit and not line.endswith(b"\n"):
            kept, length = line[:KEPT_BYTES], len(line)
            while not line.endswith(b"\n"):
                line = stream.readline(_CHUNK)
                if not line:
                    break
                length += len(line)
            length -= 2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0
            yield _Line(number, kept, length, b"\n")
            continue
        end = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
        yield _Line(number, line[: len(line) - len(end)], end=end)


def _too_long(what: str, length: int) -> str:
    return (
        f"{what} is {length:,} bytes; at most {MAX_PAYLOAD_BYTES:,} are landed "
        f"(only its first {KEPT_BYTES:,} bytes are kept here)"
    )


def _ndjson_items(stream: IO[bytes], name: str) -> Iterator[Item]:
    for line in _lines(stream):
        where = f"{name} line {line.number}"
        if line.too_long is not None:
            yield Item(line.data, where, Unreadable(_too_long("the line", line.too_long)))
        elif line.data.strip():
            yield Item(line.data, where)


# -- a JSON array -------------------------------------------------------------------------------

_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# A whole string, a structural character, or a string not closed within the buffer read so far.
_TOKEN = re.compile(_STRING + rb'|[\[\]{},]|"', re.S)
_STRING_PART = re.compile(rb'["\\]')
_NON_SPACE = re.compile(rb"[^ \t\r\n]")


def _whole_element(depth: int) -> re.Pattern[bytes]:
    """One whole element nested at most `depth` deep, and the "," or "]" after it, matched by the
    regular expression engine in one call (possessive, so a failed match never backtracks). Deeper
    or broken elements, and those cut by the end of the buffer, go through the token scan."""
    inner = rb'(?:[^"{}\[\]]++|' + _STRING + rb")*+"
    for _ in range(depth - 1):
        inner = rb'(?:[^"{}\[\]]++|' + _STRING + rb"|\{" + inner + rb"\}|\[" + inner + rb"\])*+"
    value = rb"(?:\{" + inner + rb"\}|\[" + inner + rb"\]|" + _STRING + rb'|[^"{}\[\],]*+)'
    return re.compile(rb"[ \t\r\n]*+" + value + rb"[ \t\r\n]*+([,\]])", re.S)


# Deep enough for a VTEX get-order body; compiled on first use.
_ELEMENT_DEPTH = 9
_element_pattern: re.Pattern[bytes] | None = None


class _JsonArray:
    """Splits a top-level JSON array into its elements' bytes without decoding them, reading the
    file a chunk at a time; each element is then parsed (and, if bad, quarantined) on its own."""

    def __init__(self, stream: IO[bytes], path: Path) -> None:
        self.stream = stream
        self.path = path
        self.buf = bytearray()
        self.base = 0  # file offset of buf[0]
        self.newlines = 0  # line breaks before buf[counted]
        self.pos = 0  # scan position in buf
        self.depth = 0
        self.in_string = False
        self.escaped = False
        #: file offset where the current element's text begins (after "[" or ","), None between
        self.element: int | None = None
        #: an element too long to land: (file offset of its first byte, its first bytes, its line)
        self.oversized: tuple[int, bytes, int] | None = None
        #: buf[:counted] holds `newlines` line breaks more than those before buf[0]
        self.counted = 0

    def items(self) -> Iterator[Item]:
        global _element_pattern
        if _element_pattern is None:
            _element_pattern = _whole_element(_ELEMENT_DEPTH)
        whole = _element_pattern
        if not self._start():
            return
        while self.depth > 0:
            if self.pos >= len(self.buf) and not self._more():
                yield from self._cut_short()
                return
            if self.in_string:
                self._scan_string()
                continue
            if self.depth == 1 and self.element == self.base + self.pos:
                # at an element's start: most elements are matched whole, in one call
                found = whole.match(self.buf, self.pos)
                if found is not None:
                    yield from self._element(found.start(1))
                    self.pos = found.end()
                    if found.group(1) == b"]":
                        self.depth = 0
                    else:
                        self.element = self.base + self.pos
                    continue
            match = _TOKEN.search(self.buf, self.pos)
            if match is None:
                self.pos = len(self.buf)
                continue
            token = match.group()
            if token == b'"':  # a string not closed yet: go through it as more is read
                self.in_string, self.pos = True, match.end()
                continue
            self.pos = match.end()
            if token in (b"[", b"{"):
                self.depth += 1
            elif token in (b"]", b"}"):
                self.depth -= 1
                if self.depth == 0:
                    yield from self._element(match.start())
            elif token == b"," and self.depth == 1:
                yield from self._element(match.start())
                self.element = self.base + self.pos
        yield from self._after_end()

    def _start(self) -> bool:
        """Up to the array's "["; False for a file holding only white space."""
        while len(self.buf) < len(_BOM) and self._more():
            pass
        if self.buf.startswith(_BOM):
            self.pos = len(_BOM)
        while True:
            at = _NON_SPACE.search(self.buf, self.pos)
            if at is not None:
                break
            self.pos = len(self.buf)
            if not self._more():
                return False
        first = self.buf[at.start()]
        if first != ord("["):
            shown = repr(chr(first)) if 32 <= first < 127 else f"the byte {first:#04x}"
            hint = (
                "; a file of one JSON object per line is NDJSON: name it .ndjson or .jsonl, or pass --format ndjson"
                if first == ord("{")
                else ""
            )
            raise UnreadableFileError(f"{self.path} is not a JSON array of items (it starts with {shown}){hint}")
        self.pos = at.start() + 1
        self.depth = 1
        self.element = self.base + self.pos
        return True

    def _scan_string(self) -> None:
        if self.escaped:
            self.pos += 1
            self.escaped = False
            return
        match = _STRING_PART.search(self.buf, self.pos)
        if match is None:
            self.pos = len(self.buf)
        elif match.group() == b"\\":
            self.pos = match.end()
            self.escaped = True
        else:
            self.pos = match.end()
            self.in_string = False

    def _more(self) -> bool:
        """Read the next chunk, first dropping what is no longer needed."""
        keep_from = self.pos
        if self.element is not None and self.oversized is None:
            first = self._first_byte(self.element)
            if first is not None and self.base + self.pos - first > MAX_PAYLOAD_BYTES + 3:
                at = first - self.base
                self.oversized = (first, bytes(self.buf[at : at + KEPT_BYTES]), self._line_at(first))
            else:
                keep_from = self.element - self.base
        self._drop(keep_from)
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _drop(self, upto: int) -> None:
        if upto > 0:
            self._line_at(self.base + upto)
            del self.buf[:upto]
            self.base += upto
            self.pos -= upto
            self.counted -= upto

    def _first_byte(self, offset: int) -> int | None:
        at = _NON_SPACE.search(self.buf, max(offset - self.base, 0))
        return None if at is None else self.base + at.start()

    def _line_at(self, offset: int) -> int:
        """The line of a file offset at or after the last one asked for (counted once, onwards)."""
        at = offset - self.base
        if at >= self.counted:
            self.newlines += self.buf.count(b"\n", self.counted, at)
            self.counted = at
            return self.newlines + 1
        return self.newlines - self.buf.count(b"\n", at, self.counted) + 1

    def _element(self, end: int) -> Iterator[Item]:
        """The element that ends at buf[end] (a "," or the closing "]")."""
        start, self.element = self.element, None
        if self.oversized is not None:
            first, kept, line = self.oversized
            self.oversized = None
            text_end = end
            while text_end > 0 and self.buf[text_end - 1] in b" \t\r\n":
                text_end -= 1
            reason = _too_long("the element", self.base + text_end - first)
            yield Item(kept, f"{self.path.name} line {line}", Unreadable(reason))
            return
        assert start is not None
        data = bytes(self.buf[start - self.base : end]).strip(b" \t\r\n")
        if not data:  # nothing between two commas, or an empty array: nothing to land
            return
        at = self._first_byte(start)
        where = f"{self.path.name} line {self._line_at(start if at is None else at)}"
        if len(data) > MAX_PAYLOAD_BYTES:
            yield Item(data[:KEPT_BYTES], where, Unreadable(_too_long("the element", len(data))))
        else:
            yield Item(data, where)

    def _cut_short(self) -> Iterator[Item]:
        """The file ended inside the array. A last element that is itself complete is parsed as
        usual; one cut off inside a string or an object is quarantined as such."""
        if self.element is None:
            return
        if self.oversized is not None or not (self.in_string or self.depth > 1):
            yield from self._element(len(self.buf))
            return
        first = self._first_byte(self.element)
        if first is None:
            return
        kept = bytes(self.buf[first - self.base : first - self.base + KEPT_BYTES])
        line = self._line_at(first)
        self.element = None
        yield Item(
            kept,
            f"{self.path.name} line {line}",
            Unreadable("the file ends inside this element: the JSON array is cut short; send the whole file again"),
        )

    def _after_end(self) -> Iterator[Item]:
        """Anything but white space after the array's "]" is kept as one unreadable item."""
        while True:
            at = _NON_SPACE.search(self.buf, self.pos)
            if at is not None:
                break
            self.pos = len(self.buf)
            if not self._more():
                return
        first = self.base + at.start()
        line = self._line_at(first)
        kept = bytes(self.buf[at.start() : at.start() + KEPT_BYTES])
        length = len(self.buf) - at.start()
        self._drop(len(self.buf))
        while chunk := self.stream.read(_CHUNK):
            length += len(chunk)
        yield Item(
            kept,
            f"{self.path.name} line {line}",
            Unreadable(
                f"{length:,} bytes follow the end of the JSON array; a .json file holds one array of items "
                "(a file of one item per line is NDJSON: .ndjson or .jsonl)"
            ),
        )


# -- CSV ----------------------------------------------------------------------------------------

# A field may be as long as a payload (the csv module's default limit is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), MAX_PAYLOAD_BYTES))


class _CsvFeed:
    """Hands csv.reader the file's lines as text, keeping each record's raw bytes and what was
    wrong with its lines (not UTF-8, too long), so a bad row becomes an item with its reason."""

    def __init__(self, lines: Iterator[_Line]) -> None:
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
        data = line.data.removeprefix(_BOM) if line.number == 1 else line.data
        self.raw.append(data + line.end)
        if line.too_long is not None:
            self.problem = self.problem or _too_long(f"the row's line {line.number}", line.too_long)
            return "\n"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte {data[exc.start]:#04x} at offset {exc.start} of line {line.number}"
            self.problem = self.problem or f"the row is not valid UTF-8 ({where})"
            text = data.decode("utf-8", errors="replace")
        # the line break as it was: a quoted field keeps it
        return text + (line.end.decode("ascii") or "\n")


def _csv_items(stream: IO[bytes], path: Path) -> Iterator[Item]:
    feed = _CsvFeed(_lines(stream))
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


# -- Parquet ------------------------------------------------------------------------------------


def _not_parquet(path: Path, why: object) -> str:
    return f"{path} is not a Parquet file ({why}); check the file, or pass --format for what it holds"


def _parquet_items(path: Path, name: str, size: int, on_read: OnRead) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(_not_parquet(path, exc)) from None
    target = _microseconds(file.schema_arrow)
    total_rows = max(file.metadata.num_rows, 1)
    row, told = 0, 0
    try:
        for batch in file.iter_batches(batch_size=BATCH_ITEMS):
            for raw, value in _rows(batch.cast(target, safe=False) if target is not None else batch):
                row += 1
                yield Item(raw, f"{name} row {row}", value)
            if size:
                now = size * row // total_rows
                on_read(now - told)
                told = now
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(f"{path}: the Parquet data cannot be read after row {row} ({exc})") from None


def _microseconds(schema: pa.Schema) -> pa.Schema | None:
    """The schema with nanosecond timestamps as microseconds (Python's datetime holds no finer),
    or None when it has none."""
    import pyarrow as pa

    def fix(t: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(t) and t.unit == "ns":
            return pa.timestamp("us", t.tz)
        if pa.types.is_struct(t):
            return pa.struct([f.with_type(fix(f.type)) for f in t])
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            inner = fix(t.value_type)
            return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
        return t

    fields = [f.with_type(fix(f.type)) for f in schema]
    fixed = pa.schema(fields, metadata=schema.metadata)
    return None if fixed.equals(schema) else fixed


def _rows(batch: pa.RecordBatch) -> Iterator[tuple[bytes, dict[str, Any] | Unreadable]]:
    """(raw, value) per row: the raw bytes are the row as JSON."""
    try:
        rows = batch.to_pylist(maps_as_pydicts="lossy")
    except (ValueError, OverflowError, ArithmeticError):
        # some cell cannot be a Python value (a date past year 9999): find the rows, keep the rest
        for i in range(batch.num_rows):
            try:
                [row] = batch.slice(i, 1).to_pylist(maps_as_pydicts="lossy")
            except (ValueError, OverflowError, ArithmeticError) as exc:
                yield b"", Unreadable(f"the row cannot be read ({exc})")
                continue
            yield _row_value(row)
        return
    for row in rows:
        yield _row_value(row)


def _row_value(row: dict[str, Any]) -> tuple[bytes, dict[str, Any] | Unreadable]:
    try:
        value: dict[str, Any] = _jsonable(row)
    except UnreadableCellError as exc:
        # kept for the quarantine as near to the row as JSON allows
        return orjson.dumps(row, default=repr, option=orjson.OPT_NON_STR_KEYS), Unreadable(str(exc))
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), value


def _jsonable(value: Any, key: str = "") -> Any:
    """A Parquet cell as JSON would hold it: objects without null members (an absent value in a
    columnar file is a null), timestamps as ISO-8601 with their zone (UTC when the column has
    none), dates and times as ISO-8601, decimals as numbers, binary as UTF-8 text."""
    if isinstance(value, dict):
        return {k: _jsonable(v, f"{key}.{k}" if key else str(k)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v, key) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableCellError(f"column {key} holds bytes that are not UTF-8 text") from None
    return value
