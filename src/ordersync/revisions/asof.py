"""Daily revenue as known at a moment, exactly, and what changed between two moments.

"Known at T" is the landing ledger's answer (land/ledger.py): the versions whose batch the ledger
had seen committed by T. committed_at is set once, when a seal first sees the batch, and never
decreases along the ledger, so an answer given at T is the same whenever it is asked again: no
version that landed later can join it, whatever the writers' clocks said (a writer's clock only
stamps event_ingested_at, which decides nothing here).

`current()` reads revenue_daily, which a build computes from exactly the versions known as of the
ledger's point it sealed (fct_orders reads nothing beyond it); its answer is stamped with that
point's committed_at, so `revenue --as-of <that instant>` reproduces it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from ordersync.clock import Clock
from ordersync.config import OrdersSettings
from ordersync.errors import ConfigError, NotFoundError
from ordersync.land import ledger
from ordersync.revisions.past import PastAnswers
from ordersync.warehouse import Warehouse
from ordersync.warehouse.macros import latest_version_first, revenue_rule

_ZERO = Decimal("0.00")
_COLUMNS = (
    "orders",
    "valid_orders",
    "revenue",
    "pending_orders",
    "pending_value",
    "canceled_orders",
    "canceled_value",
)


@functools.cache
def _sql(name: str) -> str:
    return (resources.files("ordersync.revisions") / "sql" / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class DayRevenue:
    """One (tenant, day, currency) of daily revenue."""

    tenant_id: int
    order_date: date
    currency_code: str
    orders: int = 0
    valid_orders: int = 0
    revenue: Decimal = _ZERO
    pending_orders: int = 0
    pending_value: Decimal = _ZERO
    canceled_orders: int = 0
    canceled_value: Decimal = _ZERO

    @property
    def key(self) -> tuple[int, date, str]:
        return (self.tenant_id, self.order_date, self.currency_code)

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.valid_orders:
            return None
        return (self.revenue / self.valid_orders).quantize(Decimal("0.01"))

    def figures(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in _COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["average_order_value"] = self.average_order_value
        return out


@dataclass(frozen=True)
class Revenue:
    """Daily revenue and the instant it is as of (None: nothing was known yet)."""

    as_of: datetime | None
    days: list[DayRevenue] = field(default_factory=list)


@dataclass(frozen=True)
class OrderChange:
    """An order whose version differs between the two moments of a diff."""

    tenant_id: int
    order_id: str
    order_date: date
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class DayDiff:
    tenant_id: int
    order_date: date
    currency_code: str
    before: DayRevenue
    after: DayRevenue
    orders: list[OrderChange]

    @property
    def delta(self) -> Decimal:
        return self.after.revenue - self.before.revenue


def versions_sql(wh: Warehouse, orders: str = "") -> str:
    """order_versions_as_of.sql for `wh` (parameters: the moment, the tenant id twice, those of
    `orders`, the tenant id twice). `orders`: a condition on the landed row `k` that restricts the
    orders ranked to those the answer needs (an order is kept or left out with all its versions)."""
    name = "order_versions_as_of.postgres.sql" if wh.dialect == "postgres" else "order_versions_as_of.sql"
    sql = _sql(name).replace("{latest_version_first}", latest_version_first(wh.dialect, "k"))
    return sql.replace("{orders}", f"and {orders}" if orders else "")


def _orders_on_days(day_from: date | None, day_to: date | None) -> tuple[str, list[Any]]:
    """A condition on `k`: its order has a landed version dated within the bounds (none: every order).
    An order's known version is one of its versions, so ranking only these orders leaves the
    figures of those days exact, while the ranking reads only what they need."""
    bounds: list[str] = []
    params: list[Any] = []
    if day_from is not None:
        bounds.append("d.order_date >= ?")
        params.append(day_from)
    if day_to is not None:
        bounds.append("d.order_date <= ?")
        params.append(day_to)
    if not bounds:
        return "", []
    return (
        "exists (select 1 from cdp.orders_landing as d where d.tenant_id = k.tenant_id "
        f"and d.order_id = k.order_id and {' and '.join(bounds)})"
    ), params


def known_instant(wh: Warehouse, clock: Clock, at: datetime) -> datetime:
    """`at` checked for an as-of question: the ledger is sealed first (so every batch committed
    until now is numbered by now), and a moment after that is refused: what will be known then is
    not known yet."""
    _zoned(at)
    return _not_ahead(at, sealed_now(wh, clock))


def sealed_now(wh: Warehouse, clock: Clock) -> datetime:
    """Now, the ledger sealed first: every batch committed before this moment is known at it."""
    ledger.seal(wh, clock)
    return clock.now()


def _zoned(at: datetime) -> None:
    if at.tzinfo is None:
        raise ConfigError(f"--as-of {at.isoformat()} has no time zone: give one (e.g. 2026-06-05T00:00:00Z)")


def _not_ahead(at: datetime, now: datetime) -> datetime:
    if at > now:
        raise ConfigError(
            f"--as-of {at.isoformat()} is in the future (now is {now.isoformat()}): what will be known then "
            "is not known yet; ask without --as-of for the latest build, or give a past moment"
        )
    return at


def as_of(
    wh: Warehouse,
    orders: OrdersSettings,
    at: datetime,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Revenue:
    """Daily revenue from the versions known at `at`, exactly."""
    scope, scope_params = _orders_on_days(day_from, day_to)
    return _as_of(wh, orders, at, tenant_id, day_from, day_to, scope, scope_params)


def _as_of(
    wh: Warehouse,
    orders: OrdersSettings,
    at: datetime,
    tenant_id: int | None,
    day_from: date | None,
    day_to: date | None,
    scope: str,
    scope_params: Sequence[Any],
) -> Revenue:
    """as_of, ranking only the orders `scope` (a condition on `k`, see versions_sql) keeps."""
    sql = _revenue_sql("revenue_as_of.sql", wh, orders).replace("{versions}", versions_sql(wh, scope))
    at = at.astimezone(UTC)
    params: list[Any] = [*_versions_params(at, tenant_id, scope_params), day_from, day_from, day_to, day_to]
    rows = _read(wh, sql, params)
    return Revenue(as_of=at, days=[_day(r) for r in rows])


#: A day's figures (the columns of _COLUMNS) from the flags revenue_daily's rules set on `f`.
_DAY_FIGURES = """count(*) as orders,
    sum(case when f.valid then 1 else 0 end) as valid_orders,
    sum(case when f.valid then f.total_value else 0 end) as revenue,
    sum(case when f.pending then 1 else 0 end) as pending_orders,
    sum(case when f.pending then f.total_value else 0 end) as pending_value,
    sum(case when f.canceled then 1 else 0 end) as canceled_orders,
    sum(case when f.canceled then f.total_value else 0 end) as canceled_value"""


def _revenue_sql(name: str, wh: Warehouse, orders: OrdersSettings) -> str:
    """A daily revenue query of sql/ with the models' rules ([orders] settings) and the day's figures."""
    rule = revenue_rule(wh.dialect, orders, "o")
    return (
        _sql(name)
        .replace("{is_canceled}", rule["canceled"])
        .replace("{is_valid}", rule["valid"])
        .replace("{is_pending}", rule["pending"])
        .replace("{day_figures}", _DAY_FIGURES)
    )


def _versions_params(at: datetime, tenant_id: int | None, scope_params: Sequence[Any]) -> list[Any]:
    return [at, tenant_id, tenant_id, *scope_params, tenant_id, tenant_id]


@dataclass(frozen=True)
class Days:
    """Which revenue a question is about: a tenant's (None: every tenant's), between two days."""

    tenant_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None


def kept_as_of(
    wh: Warehouse, clock: Clock, orders: OrdersSettings, moment: datetime, past: PastAnswers[Revenue], days: Days
) -> Revenue:
    """as_of() at `moment` (checked by known_instant), kept in `past` when the moment is before the
    ledger's seal, so its answer never changes."""
    sealed_after = clock.now()  # known_instant's seal is stamped no earlier than this
    at = known_instant(wh, clock, moment)

    def answer() -> Revenue:
        return as_of(wh, orders, at, tenant_id=days.tenant_id, day_from=days.day_from, day_to=days.day_to)

    return past.answer((at, days), answer) if at < sealed_after else answer()


def kept_diff(
    wh: Warehouse,
    clock: Clock,
    orders: OrdersSettings,
    since: datetime,
    against: datetime | None,
    past: PastAnswers[list[DayDiff]],
    days: Days,
) -> list[DayDiff]:
    """diff() from `since` to `against` (default now), both checked as known_instant checks one, kept in `past`
    when both are before the ledger's seal, so its answer never changes (the API's next page of a
    diff names its moments: it is answered from memory)."""
    sealed_after = clock.now()  # the seal below is stamped no earlier than this
    for moment in (since, against):
        if moment is not None:
            _zoned(moment)
    now = sealed_now(wh, clock)  # one seal for both moments
    before, after = _not_ahead(since, now), _not_ahead(against or now, now)

    def answer() -> list[DayDiff]:
        return diff(wh, orders, before, after, tenant_id=days.tenant_id, day_from=days.day_from, day_to=days.day_to)

    return past.answer((before, after, days), answer) if max(before, after) < sealed_after else answer()


def _require_built(wh: Warehouse) -> None:
    if not wh.has_table("revenue_daily"):
        raise NotFoundError("no revenue yet: revenue_daily is built by `ordersync build`")


def current(
    wh: Warehouse,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Revenue:
    """revenue_daily as the last build left it, stamped with the ledger instant it is as of.

    Days whose orders are all gone (kept with zeros) are left out, as `as_of` has no row for them."""
    _require_built(wh)
    stamp = _built_at(wh)
    rows = wh.query(
        "SELECT tenant_id, order_date, currency_code, " + ", ".join(_COLUMNS) + " FROM cdp.revenue_daily "
        "WHERE orders > 0 AND (CAST(? AS INTEGER) IS NULL OR tenant_id = ?) "
        "AND (CAST(? AS DATE) IS NULL OR order_date >= ?) AND (CAST(? AS DATE) IS NULL OR order_date <= ?) "
        "ORDER BY tenant_id, order_date, currency_code",
        (tenant_id, tenant_id, day_from, day_from, day_to, day_to),
    )
    return Revenue(as_of=stamp, days=[_day(r) for r in rows])


def current_page(wh: Warehouse, *, tenant_id: int | None, after: tuple[str, date, str] | None, limit: int) -> Revenue:
    """`limit` days of current() in the API's order (tenant name, day, currency; names and currencies
    compared by bytes, as Python compares them), those after `after`: one page read, not all."""
    _require_built(wh)
    order = wh.byte_order
    where = ["r.orders > 0", "(CAST(? AS INTEGER) IS NULL OR r.tenant_id = ?)"]
    params: list[Any] = [tenant_id, tenant_id]
    if after is not None:
        name, day, currency = after
        where.append(
            f"(t.tenant_name {order} > ? OR (t.tenant_name = ? AND (r.order_date > ? OR "
            f"(r.order_date = ? AND r.currency_code {order} > ?))))"
        )
        params += [name, name, day, day, currency]
    stamp = _built_at(wh)
    rows = wh.query(
        "SELECT r.tenant_id, r.order_date, r.currency_code, " + ", ".join(f"r.{c}" for c in _COLUMNS) + " "
        "FROM cdp.revenue_daily r JOIN cdp.tenants t ON t.tenant_id = r.tenant_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY t.tenant_name {order}, r.order_date, r.currency_code {order} LIMIT ?",
        (*params, limit),
    )
    return Revenue(as_of=stamp, days=[_day(r) for r in rows])


def _built_at(wh: Warehouse) -> datetime | None:
    """The ledger instant the last build of revenue_daily is as of (None before any)."""
    seq = ledger.cursor(wh, ledger.FCT_ORDERS)
    stamp = wh.scalar("SELECT committed_at FROM cdp.landing_batches WHERE seq = ?", (seq,)) if seq else None
    return stamp.astimezone(UTC) if isinstance(stamp, datetime) else None


def diff(
    wh: Warehouse,
    orders: OrdersSettings,
    before_at: datetime,
    after_at: datetime,
    *,
    tenant_id: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> list[DayDiff]:
    """Every (tenant, day, currency) whose figures differ between `before_at` and `after_at`, with
    the orders whose known version differs between the two (on either day, when one moved), in
    (tenant, order id) order. One query (revenue_diff.sql) ranks the versions of the orders on the
    days that can differ once, for both moments."""
    low, high = sorted((before_at.astimezone(UTC), after_at.astimezone(UTC)))
    touched = _read(wh, _sql("touched_days.sql"), [low, high, tenant_id, tenant_id] * 2)
    if not touched:
        return []  # nothing became known between the two moments
    forward = before_at <= after_at  # `low` is the before moment
    sql = (
        _revenue_sql("revenue_diff.sql", wh, orders)
        .replace("{known}", _KNOWN_K)
        .replace("{latest_version_first}", latest_version_first(wh.dialect, "k"))
    )
    days = [[int(r[0]) for r in touched], [r[1] for r in touched]]
    params = [*days, high, tenant_id, tenant_id, low, low]
    rows = _read(wh, sql, [*params, day_from, day_from, day_to, day_to])
    before: dict[tuple[int, date, str], DayRevenue] = {}
    after: dict[tuple[int, date, str], DayRevenue] = {}
    changes: list[tuple[Any, ...]] = []
    for row in rows:
        if row[0] == "o":
            changes.append(row)
            continue
        figures = _day((row[1], *row[3:12]))
        (after if bool(row[2]) == forward else before)[figures.key] = figures
    changed = sorted(k for k in before.keys() | after.keys() if _figures(before, k) != _figures(after, k))
    if not changed:
        return []
    changes.sort(key=lambda r: (r[1], r[12]))
    causes: dict[tuple[int, date, str], list[OrderChange]] = {}
    for r in changes:
        low_version = _version((r[13], r[14], r[15], r[16], r[17]))
        high_version = _version((r[3], r[18], r[19], r[20], r[21]))
        one, two = (low_version, high_version) if forward else (high_version, low_version)
        change = OrderChange(int(r[1]), str(r[12]), (two or one or {})["order_date"], one, two)
        tid = change.tenant_id
        for key in {(tid, v["order_date"], v["currency_code"] or "XXX") for v in (one, two) if v}:
            causes.setdefault(key, []).append(change)
    out: list[DayDiff] = []
    for key in changed:
        tid, day, currency = key
        empty = DayRevenue(tid, day, currency)
        out.append(DayDiff(tid, day, currency, before.get(key, empty), after.get(key, empty), causes.get(key, [])))
    return out


def _figures(days: dict[tuple[int, date, str], DayRevenue], key: tuple[int, date, str]) -> tuple[Any, ...]:
    day = days.get(key)
    return DayRevenue(*key).figures() if day is None else day.figures()


#: When a landed row `k` (its batch `b`) became known, as in order_versions_as_of.sql.
_KNOWN_K = "(case when k.batch_id is null then coalesce(k.event_ingested_at, k.event_time) else b.committed_at end)"


def _read(wh: Warehouse, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run an as-of query. On PostgreSQL without JIT: these scan the landing table several times, so
    their estimated cost passes the JIT thresholds, and compiling them took up to 5 of their 7 s.
    On DuckDB with a build's memory."""
    if wh.dialect == "postgres":
        with wh.transaction():
            wh.execute("SET LOCAL jit = off")
            return wh.query(sql, params)
    # ranking two million versions needs more than the 48 MB default (with it some runs ran out of
    # memory, and with 36 MB every run did): the query has a build's memory
    with wh.building():
        return wh.query(sql, params)


def _version(values: Sequence[Any]) -> dict[str, Any] | None:
    if values[4] is None:
        return None
    keys = ("order_date", "status", "total_value", "currency_code", "payload_hash")
    return dict(zip(keys, values, strict=True))


def _day(row: Sequence[Any]) -> DayRevenue:
    day = row[1] if isinstance(row[1], date) else date.fromisoformat(str(row[1]))
    return DayRevenue(
        tenant_id=int(row[0]),
        order_date=day.date() if isinstance(day, datetime) else day,
        currency_code=str(row[2]),
        orders=int(row[3]),
        valid_orders=int(row[4] or 0),
        revenue=Decimal(row[5] or 0).quantize(Decimal("0.01")),
        pending_orders=int(row[6] or 0),
        pending_value=Decimal(row[7] or 0).quantize(Decimal("0.01")),
        canceled_orders=int(row[8] or 0),
        canceled_value=Decimal(row[9] or 0).quantize(Decimal("0.01")),
    )
