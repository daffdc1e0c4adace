"""What every file reader shares: the bytes read from disk (counted, gunzipped), physical lines in
bounded memory, the limits a row is held to, and how an unreadable row or file is told."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from ordersync.land import records

#: The longest payload that lands. The readers look every limit up in this module when they run,
#: so a test lowers it for all of them.
MAX_PAYLOAD_BYTES = records.MAX_PAYLOAD_BYTES
#: Items landed per transaction, and the bytes a batch holds at most (many large rows make
#: smaller batches, so memory stays bounded whatever the rows hold).
BATCH_ITEMS = 500
BATCH_BYTES = 32 * 1024 * 1024
#: A row longer than any payload may be cannot land: only its first bytes are kept in quarantine.
KEPT_BYTES = 64 * 1024
#: Bytes read from disk at once.
CHUNK = 1024 * 1024
OnRead = Callable[[int], None]


@dataclass(frozen=True)
class Unreadable:
    """The value of an item whose row could not be read: the parser quarantines it with this reason."""

    reason: str


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
def open_stream(path: Path, gzipped: bool, on_read: OnRead) -> Iterator[IO[bytes]]:
    with io.BufferedReader(_Counted(path.open("rb", buffering=0), on_read), buffer_size=CHUNK) as raw:
        if not gzipped:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield cast(IO[bytes], unzipped)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    #: the line without its line break; only the first KEPT_BYTES of a line that is too long
    data: bytes
    #: the length of a line too long to land, else None
    too_long: int | None = None
    #: the line break that ended it (b"\r\n", b"\n", or b"" at the end of the file)
    end: bytes = b""


def lines(stream: IO[bytes]) -> Iterator[Line]:
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
                line = stream.readline(CHUNK)
                if not line:
                    break
                length += len(line)
            length -= 2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0
            yield Line(number, kept, length, b"\n")
            continue
        end = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
        yield Line(number, line[: len(line) - len(end)], end=end)


def too_long(what: str, length: int) -> str:
    return (
        f"{what} is {length:,} bytes; at most {MAX_PAYLOAD_BYTES:,} are landed "
        f"(only its first {KEPT_BYTES:,} bytes are kept here)"
    )
