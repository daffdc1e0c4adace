"""A JSON array read element by element: a streaming tokenizer that finds each element's bytes
without parsing them, so a file of any size is read in bounded memory and every element lands from
its own bytes, as a JSON line would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ordersync.errors import UnreadableFileError
from ordersync.land.intake import Item
from ordersync.land.records import BOM
from ordersync.sources.files import reading
from ordersync.sources.files.reading import Unreadable

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


class JsonArray:
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
        while len(self.buf) < len(BOM) and self._more():
            pass
        if self.buf.startswith(BOM):
            self.pos = len(BOM)
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
            if first is not None and self.base + self.pos - first > reading.MAX_PAYLOAD_BYTES + 3:
                at = first - self.base
                self.oversized = (first, bytes(self.buf[at : at + reading.KEPT_BYTES]), self._line_at(first))
            else:
                keep_from = self.element - self.base
        self._drop(keep_from)
        chunk = self.stream.read(reading.CHUNK)
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
            reason = reading.too_long("the element", self.base + text_end - first)
            yield Item(kept, f"{self.path.name} line {line}", Unreadable(reason))
            return
        assert start is not None
        data = bytes(self.buf[start - self.base : end]).strip(b" \t\r\n")
        if not data:  # nothing between two commas, or an empty array: nothing to land
            return
        at = self._first_byte(start)
        where = f"{self.path.name} line {self._line_at(start if at is None else at)}"
        if len(data) > reading.MAX_PAYLOAD_BYTES:
            yield Item(data[: reading.KEPT_BYTES], where, Unreadable(reading.too_long("the element", len(data))))
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
        kept = bytes(self.buf[first - self.base : first - self.base + reading.KEPT_BYTES])
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
        kept = bytes(self.buf[at.start() : at.start() + reading.KEPT_BYTES])
        length = len(self.buf) - at.start()
        self._drop(len(self.buf))
        while chunk := self.stream.read(reading.CHUNK):
            length += len(chunk)
        yield Item(
            kept,
            f"{self.path.name} line {line}",
            Unreadable(
                f"{length:,} bytes follow the end of the JSON array; a .json file holds one array of items "
                "(a file of one item per line is NDJSON: .ndjson or .jsonl)"
            ),
        )
