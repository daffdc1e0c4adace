"""Per-tenant summaries of cdp.orders_landing, kept from the landing ledger as batches are sealed.

`status`, the Overview and the lateness histogram need, per tenant, its distinct orders, its
versions, when it last landed, and per order date and source the versions by lateness bucket.
Counting those from cdp.orders_landing reads every version of every tenant; these tables hold
them instead, and refresh() adds what the ledger sealed since the last refresh: it is a ledger
consumer (land/ledger.py), so it never skips or double-counts a batch, whatever order writers
committed in. An order counts once per tenant (and once per order date) however many versions it
has: a refresh counts the orders of its batches that no earlier-consumed version names.

The first refresh (no cursor yet) fills the tables from every row sealed so far, and from rows
landed without a batch (before the ledger existed); later ones read only their batches' rows.
Rows landed without a batch after that are not counted: the product always lands with one, and
`verify --checks summaries` (full_scan(), the oracle) would say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ordersync.clock import Clock
from ordersync.land import ledger
from ordersync.observe.lateness import BUCKET_BOUNDS, BUCKETS, LATENESS_SECONDS, bucket_counts
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey, holding, local_lock, transaction_lock

#: the ledger consumer name of the summaries
CONSUMER = "tenant_summaries"
#: the per-day counts, in the table's column order after (tenant_id, order_date, source)
DAY_COUNTS: tuple[str, ...] = ("orders", "versions", *BUCKETS, "clock_skew", "unstamped")
_DAY_KEY = ("tenant_id", "order_date", "source")
_DAY_COLUMNS = (*_DAY_KEY, *DAY_COUNTS, "max_lateness_seconds")
_TENANT_COLUMNS = ("tenant_id", "orders", "versions", "last_landed_at")
#: A refresh adding more versions than this runs, on DuckDB, with a build's memory.
LARGE_DELTA_ROWS = 100_000


def _quoted(column: str) -> str:
    return f'"{column}"' if column[0].isdigit() else column


def _fresh_sql(first: bool, unsealed: bool) -> str:
    """The versions a refresh adds: those of the batches sealed in (cursor, top], bound as
    (lowest batch id, highest batch id, cursor, top): the batch-id range lets DuckDB's row-group
    statistics skip the rest of the table. The first refresh also takes rows without a batch;
    `unsealed` (a reader that cannot seal) also the committed batches not sealed yet."""
    sealed = "b.seq > ? AND b.seq <= ?" + (" OR b.seq IS NULL" if unsealed else "")
    batches = (
        f"l.batch_id BETWEEN ? AND ? AND l.batch_id IN (SELECT b.batch_id FROM cdp.landing_batches b WHERE {sealed})"
    )
    where = f"(l.batch_id IS NULL OR ({batches}))" if first else batches
    seconds = LATENESS_SECONDS.replace("event_", "l.event_")
    return (
        "CREATE TEMP TABLE summary_fresh AS SELECT l.tenant_id, l.order_id, l.order_date, l.source, "
        f"{seconds} AS lateness, l.event_ingested_at IS NULL AS unstamped, l.event_ingested_at "
        f"FROM cdp.orders_landing l WHERE {where}"
    )


# The (order, order date) pairs of the fresh versions' orders already counted: versions of batches
# consumed before (seq <= cursor, bound) or landed without a batch.
_KNOWN = """
CREATE TEMP TABLE summary_known AS
SELECT DISTINCT l.tenant_id, l.order_id, l.order_date
FROM cdp.orders_landing l
JOIN (SELECT DISTINCT tenant_id, order_id FROM summary_fresh) f ON f.tenant_id = l.tenant_id AND f.order_id = l.order_id
WHERE l.batch_id IS NULL OR l.batch_id IN (SELECT b.batch_id FROM cdp.landing_batches b WHERE b.seq <= ?)
"""
_NO_KNOWN = "CREATE TEMP TABLE summary_known AS SELECT tenant_id, order_id, order_date FROM summary_fresh WHERE false"

# New (order, order date) pairs, each under the first of its sources by name.
_NEW_DAY_ORDERS = """
SELECT f.tenant_id, f.order_date, min(f.source) AS source, f.order_id
FROM summary_fresh f
WHERE NOT EXISTS (
    SELECT 1 FROM summary_known k
    WHERE k.tenant_id = f.tenant_id AND k.order_id = f.order_id AND k.order_date = f.order_date
)
GROUP BY f.tenant_id, f.order_date, f.order_id
"""


def _delta_days_sql() -> tuple[str, tuple[float, ...]]:
    counts, params = bucket_counts("f.lateness", named=True)
    sql = (
        "CREATE TEMP TABLE summary_days AS "
        "SELECT f.tenant_id, f.order_date, f.source, "
        "coalesce(max(n.orders), 0) AS orders, count(*) AS versions, "
        f"{counts}, count(*) FILTER (WHERE f.lateness < 0) AS clock_skew, "
        "count(*) FILTER (WHERE f.unstamped) AS unstamped, max(f.lateness) AS max_lateness_seconds "
        "FROM summary_fresh f LEFT JOIN ("
        f"  SELECT tenant_id, order_date, source, count(*) AS orders FROM ({_NEW_DAY_ORDERS}) o "
        "   GROUP BY tenant_id, order_date, source"
        ") n ON n.tenant_id = f.tenant_id AND n.order_date = f.order_date AND n.source = f.source "
        "GROUP BY f.tenant_id, f.order_date, f.source"
    )
    return sql, params


_DELTA_TENANTS = """
CREATE TEMP TABLE summary_tenants AS
SELECT f.tenant_id,
    count(DISTINCT f.order_id) FILTER (WHERE NOT EXISTS (
        SELECT 1 FROM summary_known k WHERE k.tenant_id = f.tenant_id AND k.order_id = f.order_id
    )) AS orders,
    count(*) AS versions,
    max(f.event_ingested_at) AS last_landed_at
FROM summary_fresh f
GROUP BY f.tenant_id
"""

_DAY_SET = ", ".join(
    [f"{_quoted(c)} = d.{_quoted(c)} + x.{_quoted(c)}" for c in DAY_COUNTS]
    + ["max_lateness_seconds = greatest(d.max_lateness_seconds, x.max_lateness_seconds)"]
)
_DAY_MATCH = "d.tenant_id = x.tenant_id AND d.order_date = x.order_date AND d.source = x.source"
_DAY_LIST = ", ".join(_quoted(c) for c in _DAY_COLUMNS)
_MERGES = (
    f"UPDATE cdp.tenant_day_summaries AS d SET {_DAY_SET} FROM summary_days x "
    "WHERE d.tenant_id = x.tenant_id AND d.order_date = x.order_date AND d.source = x.source",
    f"INSERT INTO cdp.tenant_day_summaries ({_DAY_LIST}) SELECT {_DAY_LIST} FROM summary_days x "
    f"WHERE NOT EXISTS (SELECT 1 FROM cdp.tenant_day_summaries d WHERE {_DAY_MATCH})",
    "UPDATE cdp.tenant_summaries AS d SET orders = d.orders + x.orders, versions = d.versions + x.versions, "
    "last_landed_at = CASE WHEN d.last_landed_at IS NULL OR x.last_landed_at > d.last_landed_at "
    "THEN x.last_landed_at ELSE d.last_landed_at END "
    "FROM summary_tenants x WHERE d.tenant_id = x.tenant_id",
    "INSERT INTO cdp.tenant_summaries (tenant_id, orders, versions, last_landed_at) "
    "SELECT tenant_id, orders, versions, last_landed_at FROM summary_tenants x "
    "WHERE NOT EXISTS (SELECT 1 FROM cdp.tenant_summaries d WHERE d.tenant_id = x.tenant_id)",
)
_TEMPS = ("summary_tenants", "summary_days", "summary_known", "summary_fresh")


@dataclass(frozen=True)
class Kept:
    """Where the summaries are read from: the tables, or (a reader that cannot write) the tables
    and, beside them, the rows of what landed since their last refresh."""

    days: str = "cdp.tenant_day_summaries"
    tenants: str = "cdp.tenant_summaries"


_DAY_UNION = f"(SELECT {_DAY_LIST} FROM cdp.tenant_day_summaries UNION ALL SELECT {_DAY_LIST} FROM summary_days)"
_TENANT_UNION = (
    "(SELECT tenant_id, orders, versions, last_landed_at FROM cdp.tenant_summaries "
    "UNION ALL SELECT tenant_id, orders, versions, last_landed_at FROM summary_tenants)"
)
_STORED = Kept()


def refresh(wh: Warehouse, clock: Clock | None = None) -> Kept:
    """Seal what committed, then add every batch sealed since the last refresh to the summaries.
    Call outside a transaction: it runs its own, one refresh at a time (a second waits, then
    finds little left to add). A read-only warehouse is not written: what landed since the last
    refresh is summed beside the tables, in temporary tables of this connection."""
    if wh.read_only:
        done = _cursor(wh)
        with wh.building():
            _add(wh, done or 0, None, first=done is None)
        return Kept(_DAY_UNION, _TENANT_UNION)
    top = ledger.seal(wh, clock) or 0
    done = _cursor(wh)
    if done is not None and done >= top:
        return _STORED
    # the first refresh reads every version, and a large delta many: on DuckDB, with a build's memory
    large = done is None or _rows_sealed(wh, done, top) > LARGE_DELTA_ROWS
    with holding(local_lock(wh, "summaries")), wh.building() if large else nullcontext(), wh.transaction():
        transaction_lock(wh, LockKey.SUMMARIES)
        done = _cursor(wh)
        if done is None or done < top:
            _add(wh, done or 0, top, first=done is None)
            for sql in _MERGES:
                wh.execute(sql)
            for temp in ("summary_days", "summary_tenants"):
                wh.execute(f"DROP TABLE {temp}")
            ledger.advance(wh, CONSUMER, top, clock.now() if clock is not None else None)
    return _STORED


@dataclass
class Keeper:
    """Held by a process that refreshes the summaries on a turn of its own (serve's loop): its
    readers then read the tables as last refreshed instead of refreshing on every read, and say
    when that was. `at` is when the last refresh began: every batch committed before it is counted
    (None until one has run: a reader then refreshes itself)."""

    at: datetime | None = None


@dataclass(frozen=True)
class Counted:
    """Where a read finds the summaries, and the moment they count up to (every batch committed
    before it)."""

    kept: Kept
    at: datetime


def counted(wh: Warehouse, clock: Clock, keeper: Keeper | None = None) -> Counted:
    """The summaries for a read: refreshed now, or (a `keeper` that has refreshed them) as kept."""
    if keeper is not None and keeper.at is not None:
        return Counted(_STORED, keeper.at)
    at = clock.now()
    return Counted(refresh(wh, clock), at)


def _rows_sealed(wh: Warehouse, done: int, top: int) -> int:
    """The versions of the batches sealed in (done, top]."""
    return int(
        wh.scalar("SELECT coalesce(sum(rows), 0) FROM cdp.landing_batches WHERE seq > ? AND seq <= ?", (done, top)) or 0
    )


def _cursor(wh: Warehouse) -> int | None:
    """The summaries' ledger cursor; None before their first refresh (which also reads rows landed
    without a batch)."""
    row = wh.query_one("SELECT seq FROM cdp.ledger_cursors WHERE consumer = ?", (CONSUMER,))
    return None if row is None else int(row[0])


def _add(wh: Warehouse, done: int, top: int | None, first: bool) -> None:
    """Sum the versions of the batches sealed in (done, top] (top None: every batch above `done`,
    sealed or not) into the temporary tables summary_days and summary_tenants."""
    unsealed = top is None
    upto = top if top is not None else 2**62
    low, high = wh.query_one(
        "SELECT coalesce(min(batch_id), 0), coalesce(max(batch_id), -1) FROM cdp.landing_batches "
        "WHERE seq > ? AND seq <= ?" + (" OR seq IS NULL" if unsealed else ""),
        (done, upto),
    ) or (0, -1)
    for temp in _TEMPS:
        wh.execute(f"DROP TABLE IF EXISTS {temp}")
    wh.execute(_fresh_sql(first, unsealed), (low, high, done, upto))
    if first:
        wh.execute(_NO_KNOWN)
    else:
        wh.execute(_KNOWN, (done,))
    days_sql, bounds = _delta_days_sql()
    wh.execute(days_sql, bounds)
    wh.execute(_DELTA_TENANTS)
    for temp in ("summary_known", "summary_fresh"):  # the versions themselves: large, done with
        wh.execute(f"DROP TABLE {temp}")


def count_built(wh: Warehouse, now: datetime) -> None:
    """Record each tenant's orders in cdp.fct_orders (call as a build ends)."""
    if not wh.has_table("fct_orders"):
        return
    with wh.transaction():
        wh.execute("DELETE FROM cdp.tenant_built")
        wh.execute(
            "INSERT INTO cdp.tenant_built (tenant_id, orders, counted_at) "
            "SELECT tenant_id, count(*), CAST(? AS TIMESTAMPTZ) FROM cdp.fct_orders GROUP BY tenant_id",
            (now,),
        )


def built(wh: Warehouse) -> dict[int, int]:
    """Each tenant's orders in cdp.fct_orders: as the last build's end counted them (only a build
    writes them), or counted now before any build has (a warehouse built before they were kept). One
    tenant's are read as the fleet's are, so its page and the Overview agree (a count of a large
    tenant's orders took 150 ms on PostgreSQL)."""
    if not wh.has_table("fct_orders"):
        return {}
    counted = wh.query("SELECT tenant_id, orders FROM cdp.tenant_built")
    if not counted:
        counted = wh.query("SELECT tenant_id, count(*) FROM cdp.fct_orders GROUP BY 1")
    return {int(t): int(n) for t, n in counted}


@dataclass(frozen=True)
class TenantSummary:
    orders: int
    versions: int
    last_landed_at: datetime | None


def tenants(wh: Warehouse, kept: Kept) -> dict[int, TenantSummary]:
    """Every tenant's totals, by tenant id (a tenant with nothing landed is absent)."""
    rows = wh.query(
        f"SELECT tenant_id, sum(orders), sum(versions), max(last_landed_at) FROM {kept.tenants} t GROUP BY tenant_id"
    )
    return {int(r[0]): TenantSummary(int(r[1]), int(r[2]), r[3]) for r in rows}


def orders_on(wh: Warehouse, kept: Kept, days: Mapping[int, date]) -> dict[int, int]:
    """Each tenant's distinct orders of one order date (`days`: tenant id -> date)."""
    if not days:
        return {}
    rows = wh.query(
        f"SELECT tenant_id, order_date, sum(orders) FROM {kept.days} d "
        "WHERE order_date >= ? AND order_date <= ? GROUP BY tenant_id, order_date",
        (min(days.values()), max(days.values())),
    )
    return {int(t): int(n) for t, d, n in rows if days.get(int(t)) == d}


def bucket_above(seconds: float) -> int | None:
    """How many of BUCKETS lie at or below `seconds` when it is one of their bounds (the counts
    above it are then exactly the versions later than it); None when it is not a bound."""
    for i, bound in enumerate(BUCKET_BOUNDS):
        if bound == seconds:
            return i + 1
    return None


def later_than(wh: Warehouse, kept: Kept, seconds: float, since: Mapping[int, date]) -> dict[int, int] | None:
    """Per tenant, its versions of order dates from `since[tenant]` on that landed more than
    `seconds` after their event; None when `seconds` is not a bucket bound (ask the versions)."""
    first = bucket_above(seconds)
    if first is None:
        return None
    if not since:
        return {}
    later = " + ".join(f"sum({_quoted(b)})" for b in BUCKETS[first:])
    tenants = list(since)
    rows = wh.query(
        f"SELECT d.tenant_id, {later} FROM {kept.days} d JOIN (SELECT unnest(CAST(? AS INTEGER[])) AS tenant_id, "
        "unnest(CAST(? AS DATE[])) AS since) s ON s.tenant_id = d.tenant_id AND d.order_date >= s.since "
        "WHERE d.order_date >= ? GROUP BY d.tenant_id",
        (tenants, [since[t] for t in tenants], min(since.values())),
    )
    out: dict[int, int] = dict.fromkeys(since, 0)
    out.update({int(t): int(n) for t, n in rows})
    return out


def lateness_rows(
    wh: Warehouse, kept: Kept, tenant_id: int, first: date, lookback_seconds: float, budget_seconds: float
) -> list[dict[str, Any]] | None:
    """lateness.sql's rows (per order date and source from `first` on) from the summaries, when the
    lookback and the budget are bucket bounds (the defaults are: 3 and 7 days); None otherwise."""
    lookback, budget = bucket_above(lookback_seconds), bucket_above(budget_seconds)
    if lookback is None or budget is None:
        return None
    counts = ", ".join(f"sum({_quoted(c)}) AS {_quoted(c)}" for c in DAY_COUNTS[1:])
    rows = wh.query_dicts(
        f"SELECT order_date, source, {counts}, max(max_lateness_seconds) AS max_lateness_seconds FROM {kept.days} d "
        "WHERE tenant_id = ? AND order_date >= ? GROUP BY order_date, source ORDER BY order_date, source",
        (tenant_id, first),
    )
    for r in rows:
        r["after_lookback"] = sum(int(r[b]) for b in BUCKETS[lookback:])
        r["over_budget"] = sum(int(r[b]) for b in BUCKETS[budget:])
    return rows


# -- the oracle: the same figures from a full scan, for `verify` --------------------------------

#: The three views verify compares: per tenant; per tenant, date and source (orders left out: which
#: source an order counts under depends on the order versions arrived in); per tenant and date, orders.
Views = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
_PER_SOURCE = ", ".join(_quoted(c) for c in (*_DAY_KEY, *DAY_COUNTS[1:], "max_lateness_seconds"))


def full_scan(wh: Warehouse, upto: int) -> Views:
    """The summaries' figures computed from every version sealed up to seq `upto` (and every row
    without a batch) by a plain scan of cdp.orders_landing, in stored()'s shape and order."""
    seconds = LATENESS_SECONDS.replace("event_", "s.event_")
    scanned = (
        f"(SELECT s.tenant_id, s.order_id, s.order_date, s.source, s.event_ingested_at, {seconds} AS lateness "
        "FROM cdp.orders_landing s WHERE s.batch_id IS NULL OR s.batch_id IN "
        "(SELECT b.batch_id FROM cdp.landing_batches b WHERE b.seq <= ?)) l"
    )
    counts, bounds = bucket_counts("l.lateness")
    per_tenant = wh.query(
        "SELECT l.tenant_id, count(DISTINCT l.order_id), count(*), max(l.event_ingested_at) "
        f"FROM {scanned} GROUP BY l.tenant_id ORDER BY 1",
        (upto,),
    )
    per_source = wh.query(
        f"SELECT l.tenant_id, l.order_date, l.source, count(*), {counts}, "
        "count(*) FILTER (WHERE l.lateness < 0), count(*) FILTER (WHERE l.event_ingested_at IS NULL), "
        f"max(l.lateness) FROM {scanned} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        (*bounds, upto),
    )
    per_day = wh.query(
        f"SELECT l.tenant_id, l.order_date, count(DISTINCT l.order_id) FROM {scanned} GROUP BY 1, 2 ORDER BY 1, 2",
        (upto,),
    )
    return per_tenant, per_source, per_day


def stored(wh: Warehouse) -> Views:
    """The summaries as stored."""
    return (
        wh.query(f"SELECT {', '.join(_TENANT_COLUMNS)} FROM cdp.tenant_summaries ORDER BY 1"),
        wh.query(f"SELECT {_PER_SOURCE} FROM cdp.tenant_day_summaries ORDER BY 1, 2, 3"),
        wh.query("SELECT tenant_id, order_date, sum(orders) FROM cdp.tenant_day_summaries GROUP BY 1, 2 ORDER BY 1, 2"),
    )
