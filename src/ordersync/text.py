"""Text from outside (pushed, pulled, typed by an operator) is inert wherever ordersync keeps or shows
it. One home for each rule:

- an identifier holds no control, zero-width or bidi character (`unsafe_character`): an invisible or
  reordering character makes one id look like another to the person reading it;
- every line the CLI prints shows control, zero-width and bidi characters escaped (`printable`):
  `\\x1b`, `\\u202e`, never the character itself, so stored text cannot move the cursor, clear the
  screen or reverse what follows it;
- a CSV cell a spreadsheet would take for a formula is prefixed with a quote (`csv_cell`, OWASP);
- tenant names (`check_tenant_name`) and token labels (`check_label`) follow their rules when they
  are created; names created before the rule keep working;
- PostgreSQL text cannot hold NUL: text ordersync writes about an input (a reason, an error, a
  notification as received) shows it written out (`storable`), while an order's own text values
  drop it (`without_nul`), so a version's values are the same on both warehouses.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import overload

from ordersync.errors import ConfigError

# Zero-width characters and the byte-order mark: invisible, so two ids that differ by one look alike.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
# Bidi controls: marks, embeddings, overrides and isolates reorder what is shown after them.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Control characters (Unicode category Cc: C0, DEL, C1) and the line and paragraph separators.
CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_UNSAFE = re.compile(f"[{CONTROL}{ZERO_WIDTH}{BIDI}]")

# OWASP's CSV injection rule: a cell starting with one of these is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

TENANT_NAME_RULE = "lowercase letters, digits, '-' and '_', 1-63 characters, starting with a letter or digit"
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_LABEL = 100
NUL = "\x00"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def unsafe_character(text: str) -> str | None:
    """How to name the first control, zero-width or bidi character in `text` (None: there is none)."""
    found = _UNSAFE.search(text)
    if found is None:
        return None
    char = found.group()
    if char in ZERO_WIDTH:
        kind = "a zero-width character"
    elif char in BIDI:
        kind = "a bidi control character"
    else:
        kind = "a control character"
    name = unicodedata.name(char, "")
    return f"{kind} ({_escape(char)}{f' {name}' if name else ''}) at position {found.start() + 1}"


def printable(text: str) -> str:
    """`text` with every control, zero-width and bidi character shown as its escape (`\\x1b`,
    `\\u202e`): what a terminal prints is what the text holds, and nothing it holds acts on the
    terminal."""
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


@overload
def storable(text: str, limit: int | None = None) -> str: ...
@overload
def storable(text: None, limit: int | None = None) -> None: ...
def storable(text: str | None, limit: int | None = None) -> str | None:
    """`text` as a text column holds it: NUL written out as \\x00, then cut to `limit` characters
    (the cut shown as "...")."""
    if text is None:
        return None
    text = text.replace(NUL, "\\x00")
    return text if limit is None or len(text) <= limit else f"{text[: limit - 3]}..."


def without_nul(text: str) -> str:
    """`text` without its NUL characters (an order's text values: nothing is written out in them)."""
    return text.replace(NUL, "")


def csv_cell(value: object) -> object:
    """A value for a CSV cell. Numbers (which ordersync computed) are written as they are, so a
    negative one stays a number; text that a spreadsheet would read as a formula (it starts with
    = + - @, a tab or a carriage return) gets a leading single quote, as OWASP recommends."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def check_tenant_name(name: str) -> str:
    """A new tenant's name, or ConfigError saying the rule."""
    if not _TENANT_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else f"{name[:57]}..."
        raise ConfigError(
            f"tenant name {shown!r} is not allowed: use {TENANT_NAME_RULE} (e.g. petbaar, mobile-app, store_2)"
        )
    return name


def check_label(label: str | None) -> str | None:
    """A token's label: at most MAX_LABEL characters, none of them control, zero-width or bidi;
    an empty label is no label."""
    if not label:
        return None
    if len(label) > MAX_LABEL:
        raise ConfigError(f"the label is {len(label):,} characters long; at most {MAX_LABEL} are allowed")
    problem = unsafe_character(label)
    if problem is not None:
        raise ConfigError(f"the label holds {problem}; use plain text, e.g. mobile-app")
    return label
