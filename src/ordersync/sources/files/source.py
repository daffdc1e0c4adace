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

import gzip
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from ordersync.errors import BadRecordError, ConfigError, UnreadableFileError
from ordersync.land.intake import Item
from ordersync.land.records import BOM, Version, parse_order, payload_text
from ordersync.sources.files import reading
from ordersync.sources.files.csv import csv_items
from ordersync.sources.files.json_array import JsonArray
from ordersync.sources.files.ndjson import ndjson_items
from ordersync.sources.files.parquet import PARQUET_MAGIC, not_parquet, parquet_items
from ordersync.sources.files.reading import OnRead, Unreadable
from ordersync.sources.push.events import parse_value

FORMATS = ("ndjson", "json", "csv", "parquet")
_ALIASES = {"jsonl": "ndjson"}
_EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_GZIP_MAGIC = b"\x1f\x8b"


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
        if fmt == "parquet" and not gzipped and size > 0 and head != PARQUET_MAGIC:
            raise UnreadableFileError(not_parquet(path, "no PAR1 marker at its start"))
        return cls(path, fmt, gzipped, size)

    def items(self, on_read: OnRead | None = None) -> Iterator[Item]:
        """Every item of the file, in order; `on_read` is told the bytes read from disk as reading
        goes. Raises UnreadableFileError when the file turns out unreadable part-way."""
        counted = on_read or (lambda n: None)
        try:
            if self.format == "parquet":
                yield from self._parquet(counted)
                return
            with reading.open_stream(self.path, self.gzipped, counted) as stream:
                if self.format == "ndjson":
                    yield from ndjson_items(stream, self.name)
                elif self.format == "json":
                    yield from JsonArray(stream, self.path).items()
                else:
                    yield from csv_items(stream, self.path)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise UnreadableFileError(
                f"{self.path}: the gzip data is corrupt or cut short ({exc}); the rows before that point were "
                "read. Send the whole file again and ingest it again (what already landed does not land twice)"
            ) from None
        except OSError as exc:
            raise UnreadableFileError(f"{self.path} could not be read to its end ({exc.strerror or exc})") from None

    def batches(self, on_read: OnRead | None = None, size: int = reading.BATCH_ITEMS) -> Iterator[list[Item]]:
        return batched(self.items(on_read), size)

    def _parquet(self, on_read: OnRead) -> Iterator[Item]:
        if not self.gzipped:
            yield from parquet_items(self.path, self.name, self.size, on_read)
            return
        # Parquet is read from its footer backwards: decompress to a temporary file first.
        with tempfile.NamedTemporaryFile(prefix="ordersync-", suffix=".parquet") as tmp:
            with reading.open_stream(self.path, True, on_read) as stream:
                shutil.copyfileobj(stream, tmp, reading.CHUNK)
            tmp.flush()
            tmp.seek(0)
            if tmp.read(4) != PARQUET_MAGIC:
                raise UnreadableFileError(not_parquet(self.path, "no PAR1 marker at its start once decompressed"))
            yield from parquet_items(Path(tmp.name), self.name, 0, lambda n: None)


def batched(
    items: Iterable[Item], size: int = reading.BATCH_ITEMS, max_bytes: int = reading.BATCH_BYTES
) -> Iterator[list[Item]]:
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
    data = item.raw.removeprefix(BOM)
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
