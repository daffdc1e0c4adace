"""Which orders one list call has already yielded, in memory that follows the slices being read.

An order can come twice in one call: within a slice, when orders indexed meanwhile shift the pages;
from a window's first pages and again from the slices it was split into; and from two neighbouring
slices, which share the millisecond between them (see windows.py). So a slice's ids are kept while
any of its pages are outstanding, lent to the slices it is split into, and dropped after that; ids
that may sit on a slice's end go to one set kept for the whole call, where a neighbour finds them.
Telling where an order sits needs its value of the filtered field, and the list shows only
creationDate: for the other fields every id is kept for the whole call (those windows mostly run
from the last sync, so they are short).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ordersync.sources.vtex.listing import DateField, ListEntry
from ordersync.sources.vtex.windows import ListWindow, floor_ms

# The list may print creationDate with anything from 7 fractional digits to none, so an order
# shown within a second of a slice's end may sit on it.
_EDGE_MS = 1000


@dataclass
class _Slice:
    inherited: tuple[set[str], ...]
    ids: set[str] = field(default_factory=set)
    outstanding: int = 0


class SeenOrders:
    """The ids one list_window call has yielded; the caller reports pages asked, split and done."""

    def __init__(self, date_field: DateField) -> None:
        self._keep_all = date_field != "creationDate"
        self._edges: set[str] = set()
        self._slices: dict[ListWindow, _Slice] = {}

    def asked(self, window: ListWindow, pages: int) -> None:
        """`pages` more pages of `window` were asked for."""
        self._slice(window).outstanding += pages

    def split(self, window: ListWindow, parts: list[ListWindow]) -> None:
        """`window` is read as `parts` from now on; they skip what it has yielded (or will)."""
        parent = self._slice(window)
        lent = (parent.ids, *parent.inherited)
        for part in parts:
            self._slices.setdefault(part, _Slice(lent))

    def done(self, window: ListWindow, pages: int = 1) -> None:
        """`pages` pages of `window` came back or will not be asked for after all."""
        s = self._slices[window]
        s.outstanding -= pages
        if s.outstanding <= 0:
            # Slices split from it hold its set for as long as they need it.
            del self._slices[window]

    def first_time(self, window: ListWindow, entry: ListEntry) -> bool:
        """Record `entry`, read from a page of `window`; False if this call has yielded it before."""
        oid = entry.order_id
        s = self._slices[window]
        if oid in self._edges or oid in s.ids or any(oid in ids for ids in s.inherited):
            return False
        if self._keep_all or self._near_end(window, entry):
            self._edges.add(oid)
        else:
            s.ids.add(oid)
        return True

    def held(self) -> int:
        """Order ids held now (sets lent to slices counted once)."""
        sets = {id(self._edges): self._edges}
        for s in self._slices.values():
            for ids in (s.ids, *s.inherited):
                sets[id(ids)] = ids
        return sum(len(ids) for ids in sets.values())

    def _slice(self, window: ListWindow) -> _Slice:
        return self._slices.setdefault(window, _Slice(()))

    @staticmethod
    def _near_end(window: ListWindow, entry: ListEntry) -> bool:
        ms = floor_ms(entry.creation_date)
        return abs(ms - window.start) <= _EDGE_MS or abs(ms - window.end) <= _EDGE_MS
