"""CSV as ordersync writes it, wherever it goes (the CLI's stdout, a download from `serve`): one
home for the rule, so a file downloaded from a page is byte for byte what the command prints.

Text cells from outside are guarded by `csv_cell` (a leading quote before = + - @ tab or CR, so a
spreadsheet never runs them), then scrubbed of known secrets with control, zero-width and bidi
characters shown escaped (`inert`); numbers stay numbers; the csv module quotes what needs quoting.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Mapping, Sequence
from typing import IO, Any

from ordersync.secrets import known_secrets, scrub
from ordersync.text import csv_cell, printable


def inert(text: str, secrets: Collection[str] | None = None) -> str:
    """Text as ordersync shows it: without known secrets, control, zero-width and bidi characters escaped."""
    return printable(scrub(text, secrets))


def write_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], out: IO[str]) -> None:
    """Rows as CSV on `out`: a header, then one line a row."""
    secrets = known_secrets()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        cells = [csv_cell(row.get(c)) for c in columns]
        writer.writerow([inert(c, secrets) if isinstance(c, str) else c for c in cells])
