"""Terminal output: Rich progress bars for the Reporter interface, tables, lines, CSV and JSON.

Everything printed here passes through one rule for text from outside (ordersync.text): secrets
scrubbed, then control, zero-width and bidi characters shown escaped (`\\x1b`, `\\u202e`), and never
read as Rich markup (text goes out as Text objects, or escaped where Rich insists on markup). JSON is
written with every such character escaped by JSON itself; CSV cells by `csv_cell` (OWASP's rule).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ordersync.console import Task
from ordersync.paging import Key, Page, decode, every_item
from ordersync.secrets import known_secrets, scrub
from ordersync.sheets import inert, write_csv
from ordersync.text import printable


class _InertConsole(Console):
    """A console whose plain-string arguments have control, zero-width and bidi characters escaped
    (line breaks aside: the code's own strings hold them) before Rich sees them, so a line formatted
    with stored text (a tenant's name, say) cannot act on the terminal even where it was not printed
    with `say`."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_lines(o) if isinstance(o, str) else o for o in objects), **kwargs)


def _lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


# markup off: a string is printed as it reads; the few lines styled on purpose say markup=True and
# escape what they format into it (`say_error`), or print Text objects.
console: Console = _InertConsole(markup=False)
err_console: Console = _InertConsole(stderr=True, markup=False)


class _RichTask:
    def __init__(self, progress: Progress, task_id: Any) -> None:
        self.progress = progress
        self.task_id = task_id

    def advance(self, amount: float = 1) -> None:
        self.progress.advance(self.task_id, amount)

    def update(self, *, total: float | None = None, description: str | None = None) -> None:
        shown = None if description is None else _markup(description)
        self.progress.update(self.task_id, total=total, description=shown)

    def close(self) -> None:
        task = self.progress.tasks[self.task_id] if isinstance(self.task_id, int) else None
        if task is not None and task.total is not None:
            self.progress.update(self.task_id, completed=task.total)
        self.progress.stop_task(self.task_id)


class RichReporter:
    """Progress bars on stderr while work runs; quiet when stderr is not a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
            disable=not enabled,
        )

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def task(self, description: str, total: float | None = None) -> Task:
        return _RichTask(self.progress, self.progress.add_task(_markup(description), total=total))

    def message(self, text: str) -> None:
        say(text, out=self.progress.console)


def _markup(text: str) -> str:
    """Text for a place Rich reads as markup (a progress bar's description): inert."""
    return escape(printable(scrub(text)))


def say_error(text: str, label: str = "error:") -> None:
    """`label` in red, then `text` (inert), on stderr."""
    err_console.print(Text.assemble((label, "red"), " ", inert(text)), highlight=False)


def say(
    text: str,
    *,
    out: Console | None = None,
    style: str | None = None,
    soft_wrap: bool = False,
    lines: bool = False,
) -> None:
    """Text that may hold stored or outside text, printed as is: never read as markup, with what
    `inert` escapes escaped (line breaks too, unless `lines`: a document of several lines that
    ordersync wrote). Wrapped to the width, unless `soft_wrap` (one line, for scripts)."""
    shown = _lines(scrub(text)) if lines else inert(text)
    (out or console).print(Text(shown, style=style or ""), soft_wrap=soft_wrap)


# Shorter header names, used only when a table does not fit the terminal with the full ones
# (a legend under the table spells them out).
SHORT_LABELS = {
    "quarantined": "quar.",
    "discrepancies": "discr.",
    "open discrepancies": "discr.",
    "seconds": "secs",
    "history": "hist.",
    "fetched": "fetch.",
    "warehouse": "wh",
    "initial sync completed": "done",
    "sync frequency hours": "every (h)",
    "orders landed": "landed",
    "orders in fct_orders": "in fct_orders",
    "versions caught late": "late",
}
GAP = 2  # spaces between columns; 1 when that is what it takes to keep one table
WRAP_MIN = 10  # a long text column is not wrapped narrower than this (or its header)
KEEP_WORD = 12  # a word this long or shorter ("incremental") is never broken; longer ones fold


@dataclass
class _Column:
    key: str
    label: str
    cells: list[str]
    numeric: bool

    @property
    def natural(self) -> int:
        """The widest cell."""
        return max((len(c) for c in self.cells), default=0)

    def floor(self, label: str) -> int:
        """The narrowest this column goes: numbers and short texts never wrap, words of up to
        KEEP_WORD characters are not broken, and headers stay whole."""
        if self.numeric or self.natural <= WRAP_MIN:
            return max(len(label), self.natural)
        longest_word = max((len(w) for c in self.cells for w in c.split()), default=0)
        return max(len(label), longest_word if longest_word <= KEEP_WORD else WRAP_MIN)


def _cell(value: Any, secrets: Collection[str]) -> str:
    return "" if value is None else inert(str(value), secrets)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def fit_widths(columns: Sequence[_Column], labels: Sequence[str], width: int, gap: int = GAP) -> list[int] | None:
    """Column widths that fit `width` (gaps included), shrinking the widest wrappable column first;
    None when even the narrowest layout does not fit."""
    floors = [c.floor(lbl) for c, lbl in zip(columns, labels, strict=True)]
    widths = [max(c.natural, f) for c, f in zip(columns, floors, strict=True)]
    budget = width - gap * (len(columns) - 1)
    if sum(floors) > budget:
        return None
    while sum(widths) > budget:
        i = max(range(len(widths)), key=lambda k: (widths[k] - floors[k] > 0, widths[k]))
        widths[i] -= 1
    return widths


def print_table(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    *,
    below: Sequence[str] = ("error",),
    out: Console | None = None,
) -> None:
    """A table that fits the console's width.

    `columns` lists the keys to show (headed by the key; in a key without spaces, such as
    go_live_date, '_' reads as a space), or maps them to header names. Columns named in `below` (an
    error, say) are long texts: they are printed under the table, one `first-column: text` line per
    row that has one. Numbers are right-aligned; long texts wrap; a header is never cut: when the
    table does not fit, headers get their short names (a legend follows), the columns come
    closer, and then they are split over several tables, each starting with the first column.
    """
    con = out or console
    if not rows:
        say(f"{title}: nothing to show", out=con)
        return
    secrets = known_secrets()
    spec = (
        dict(columns)
        if isinstance(columns, Mapping)
        else {c: c if " " in c else c.replace("_", " ") for c in (columns or rows[0].keys())}
    )
    keys = [k for k in spec if k not in below]
    cols = [
        _Column(
            key=k,
            label=spec[k],
            cells=[_cell(r.get(k), secrets) for r in rows],
            numeric=all(_is_number(r.get(k)) for r in rows if r.get(k) is not None)
            and any(r.get(k) is not None for r in rows),
        )
        for k in keys
    ]
    labels, gap, tables = _layout(cols, con.width) if cols else ([], GAP, [])
    for n, (group, widths) in enumerate(tables):
        table = Table(
            title=Text(inert(title)) if n == 0 else None,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            # the box's blank divider is one space; padding collapsed between cells makes two
            padding=(0, 1) if gap == 2 else (0, 0),
            collapse_padding=True,
        )
        for i, w in zip(group, widths, strict=True):
            c = cols[i]
            table.add_column(
                labels[i],
                width=w,
                justify="right" if c.numeric else "left",
                no_wrap=c.numeric,
                overflow="fold",
            )
        for r in range(len(rows)):
            table.add_row(*(Text(cols[i].cells[r]) for i in group))
        con.print(table)
    legend = [f"{s} = {c.label}" for c, s in zip(cols, labels, strict=True) if s != c.label]
    if legend:
        con.print(Text(", ".join(legend), style="dim"))
    first = cols[0].key if cols else next(iter(spec))
    for row in rows:
        for k in below:
            if k in spec and row.get(k):
                print_below(_cell(row.get(first), secrets), _cell(row.get(k), secrets), out=con)


def print_below(name: str, text: str, *, out: Console | None = None) -> None:
    """A long text about one row of a table, as the line `name: text` (wrapped to the width)."""
    say(f"{name}: {text}", out=out)


def short_time(value: str | None, missing: str = "") -> str:
    """An ISO-8601 instant as 'YYYY-MM-DD HH:MM', for tables (JSON output keeps the full value)."""
    return value[:16].replace("T", " ") if value else missing


def _layout(cols: Sequence[_Column], width: int) -> tuple[list[str], int, list[tuple[list[int], list[int]]]]:
    """Header names, the gap, and per table (column indexes, widths): one table with the full
    names, else with as few short names as it takes, else with the columns one space apart (when
    every header is one word), else the columns split over tables that each begin with the first."""
    labels = [c.label for c in cols]
    short = [SHORT_LABELS.get(c.label, c.label) for c in cols]
    everything = list(range(len(cols)))
    # shorten the headers one at a time, the one that saves most first, until the table fits
    by_saving = sorted(everything, key=lambda i: len(short[i]) - len(labels[i]))
    for i in [None, *by_saving]:
        if i is not None:
            labels[i] = short[i]
        widths = fit_widths(cols, labels, width)
        if widths is not None:
            return labels, GAP, [(everything, widths)]
    # one space apart only when no header has a space of its own, or the headers run together
    widths = None if any(" " in lbl for lbl in short) else fit_widths(cols, short, width, gap=1)
    if widths is not None:
        return short, 1, [(everything, widths)]
    tables: list[tuple[list[int], list[int]]] = []
    group = [0]
    for i in range(1, len(cols)):
        if (
            fit_widths([cols[k] for k in (*group, i)], [short[k] for k in (*group, i)], width) is None
            and len(group) > 1
        ):
            tables.append((group, _widths(cols, short, group, width)))
            group = [0]
        group.append(i)
    tables.append((group, _widths(cols, short, group, width)))
    return short, GAP, tables


def _widths(cols: Sequence[_Column], labels: Sequence[str], group: Sequence[int], width: int) -> list[int]:
    sub, names = [cols[i] for i in group], [labels[i] for i in group]
    fitted = fit_widths(sub, names, width)
    if fitted is not None:
        return fitted
    # a column too wide on its own even beside the first: give it what is left, header included
    room = max(width - GAP * (len(sub) - 1) - sum(len(n) for n in names[:-1]), 1)
    return [len(n) for n in names[:-1]] + [room]


def print_json(data: Any) -> None:
    print(scrub(json.dumps(data, indent=2, default=str)))  # ASCII: every other character is escaped


def print_pages(fetch: Callable[[Key | None], Page]) -> None:
    """A paged list's items, every page's, as one JSON array (the API gives them a page at a time)."""
    print_json(every_item(lambda cursor: fetch(decode(cursor))))


def print_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], out: IO[str] | None = None) -> None:
    """Rows as CSV (a header, then one line a row), as ordersync.sheets writes every CSV."""
    write_csv(columns, rows, out or sys.stdout)
