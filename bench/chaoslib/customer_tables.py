"""The customers' tables of a trial's warehouse, read with plain SQL, and their comparison with those of
a clean run on the same data at the same clock.

Every column is compared but those a run draws at random (its run id, and the event batch ids made
from it); floating-point values are compared to 12 significant digits. A row of the clean run missing
or different counts as lost, a row it does not have as doubled; events count by id instead (see
`compare`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chaoslib.warehouses import Reader

#: Each table's columns left out of the comparison.
TABLES: dict[str, frozenset[str]] = {
    "customer_identifiers": frozenset(),
    "customer_orders": frozenset(),
    "customer_links": frozenset(),
    "customer_profiles": frozenset(),
    "customer_rfm": frozenset(),
    "customer_clv": frozenset(),
    "customer_journey": frozenset(),
    "customer_state": frozenset(),
    "rfm_breakpoints": frozenset(),
    "clv_models": frozenset(),
    "customer_events": frozenset({"batch_id"}),
    "customer_runs": frozenset({"run_id"}),
}

Row = tuple[Any, ...]


def _value(v: Any) -> Any:
    return float(f"{v:.12g}") if isinstance(v, float) else v


@dataclass
class Snapshot:
    #: table -> (compared columns, rows)
    tables: dict[str, tuple[list[str], Counter[Row]]] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)

    def rows(self, table: str) -> int:
        return sum(self.tables[table][1].values())


def snapshot(reader: Reader) -> Snapshot:
    """Every customers table of the warehouse (one tenant's: the trials have one)."""
    out = Snapshot()
    for table, left_out in TABLES.items():
        columns = [
            str(r[0])
            for r in reader.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'cdp' AND table_name = ? "
                "ORDER BY ordinal_position",
                (table,),
            )
            if str(r[0]) not in left_out
        ]
        rows = reader.query(f"SELECT {', '.join(columns)} FROM cdp.{table}")
        out.tables[table] = (columns, Counter(tuple(_value(v) for v in row) for row in rows))
    out.event_ids = [str(r[0]) for r in reader.query("SELECT event_id FROM cdp.customer_events")]
    return out


@dataclass
class Difference:
    lost: int = 0  # rows of the clean run missing or different; events by id: missing or saying otherwise
    doubled: int = 0  # rows the clean run does not have; events by id: not written by it, or held twice
    problems: list[str] = field(default_factory=list)


def compare(clean: Snapshot, got: Snapshot) -> Difference:
    """What `got` lacks or has more than `clean`. Events count by id: one the clean run wrote that is
    missing or says something else is lost; one it did not write, or an id held twice, is doubled."""
    diff = Difference()
    want_ids, have_ids = set(clean.event_ids), Counter(got.event_ids)
    changed: set[str] = set()
    for table, (columns, want) in clean.tables.items():
        have = got.tables[table][1]
        missing, extra = want - have, have - want
        if not missing and not extra:
            continue
        if table == "customer_events":
            at = columns.index("event_id")
            changed = {str(row[at]) for row in missing if str(row[at]) in have_ids}
        else:
            diff.lost += sum(missing.values())
            diff.doubled += sum(extra.values())
        example = _example(columns, next(iter(missing or extra)))
        diff.problems.append(
            f"cdp.{table}: {sum(missing.values())} rows of the clean run missing or different, "
            f"{sum(extra.values())} rows it does not have, e.g. {'missing' if missing else 'extra'} {example}"
        )
    lost = want_ids - set(have_ids)
    twice = sum(n - 1 for n in have_ids.values() if n > 1)
    invented = set(have_ids) - want_ids
    diff.lost += len(lost) + len(changed)
    diff.doubled += twice + len(invented)
    if changed:
        diff.problems.append(f"{len(changed)} events say other than the clean run's, e.g. {sorted(changed)[:2]}")
    if lost:
        diff.problems.append(f"{len(lost)} events of the clean run were never written, e.g. {sorted(lost)[:2]}")
    if twice:
        diff.problems.append(f"{twice} event ids are written more than once")
    if invented:
        diff.problems.append(f"{len(invented)} events the clean run did not write, e.g. {sorted(invented)[:2]}")
    return diff


def _example(columns: list[str], row: Row) -> str:
    """A row by its keys (never an identifier's raw value: customer_identifiers shows only its order)."""
    shown = {c: v for c, v in zip(columns, row, strict=True) if c in ("customer_key", "order_id", "event_id", "kind")}
    return str(shown or dict(zip(columns[:2], row[:2], strict=True)))
