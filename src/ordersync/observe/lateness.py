"""`lateness`: per tenant and order date, how late its versions landed (event_ingested_at -
event_time), how many arrived after the build's lookback and how many over the lateness budget.

Versions over the budget are only flagged, here, when asked: landing keeps every one of them.
The report's SQL is lateness.sql beside this module (what each column means is written there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from ordersync.errors import ConfigError
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

#: Lateness buckets, each (lower, upper] (the first from minus infinity, the last to infinity).
BUCKETS: tuple[str, ...] = ("upto_1h", "1h_6h", "6h_24h", "1d_3d", "3d_7d", "over_7d")
#: Their upper bounds in seconds, the last's (infinity) left out: bound into lateness.sql, and into
#: every other count by bucket (bucket_counts).
BUCKET_BOUNDS: tuple[float, ...] = (3600.0, 21600.0, 86400.0, 259200.0, 604800.0)
#: The counts the report adds up per day and per source.
COUNTS: tuple[str, ...] = ("versions", *BUCKETS, "after_lookback", "over_budget", "clock_skew", "unstamped")
#: lateness.sql's rows kept elsewhere: (tenant id, first order date, lookback s, budget s) -> rows or None
KeptRows = Callable[[int, date, float, float], list[dict[str, Any]] | None]
#: Order dates `status` looks back over for `late_versions_over_budget`.
STATUS_DAYS = 30
DAY_SECONDS = 86400

#: A landed version's lateness in seconds (lateness.sql's, where a row without event_ingested_at is
#: on time): for counts over every tenant's versions.
LATENESS_SECONDS = (
    "coalesce(CAST(extract(epoch FROM event_ingested_at) - extract(epoch FROM event_time) AS DOUBLE PRECISION), 0)"
)
_OVER_BUDGET = (
    "SELECT count(*) FROM cdp.orders_landing WHERE tenant_id = ? AND order_date >= CAST(? AS DATE) "
    "AND extract(epoch FROM event_ingested_at) - extract(epoch FROM event_time) > CAST(? AS DOUBLE PRECISION)"
)


@cache
def report_sql() -> str:
    return (resources.files("ordersync.observe") / "lateness.sql").read_text(encoding="utf-8")


def first_date(tenant: Tenant, now: datetime, days: int) -> date:
    """The first of the last `days` order dates, today being `now`'s date in the tenant's time zone."""
    return now.astimezone(tenant.tz).date() - timedelta(days=days - 1)


def tenant_lateness(
    wh: Warehouse,
    tenants: Iterable[Tenant],
    now: datetime,
    *,
    days: int,
    lookback_days: float,
    budget_days: float,
    kept: KeptRows | None = None,
) -> list[dict[str, Any]]:
    """One row per (tenant, order date) from the last `days` order dates on (a date ahead of the
    clock, from a source clock running ahead, is kept so it shows), tenants in the order given.
    `kept`: lateness.sql's rows as kept elsewhere (observe/summaries.py), None where it has none;
    the versions are then scanned by lateness.sql."""
    if days < 1:
        raise ConfigError(f"days must be at least 1 (got {days})")
    out: list[dict[str, Any]] = []
    for t in tenants:
        first, lookback, budget = first_date(t, now, days), lookback_days * DAY_SECONDS, budget_days * DAY_SECONDS
        found = None if kept is None else kept(t.tenant_id, first, lookback, budget)
        if found is None:
            found = wh.query_dicts(report_sql(), (lookback, budget, *BUCKET_BOUNDS, t.tenant_id, first))
        per_day: dict[date, list[dict[str, Any]]] = {}
        for r in found:
            per_day.setdefault(r["order_date"], []).append(r)
        for day, parts in sorted(per_day.items()):
            out.append(
                {
                    "tenant": t.tenant_name,
                    "tenant_id": t.tenant_id,
                    "date": day.isoformat(),
                    **_summary(parts),
                    "lookback_days": lookback_days,
                    "lateness_budget_days": budget_days,
                    "by_source": {p["source"]: _summary([p]) for p in parts},
                }
            )
    return out


def bucket_counts(seconds: str, *, named: bool = False) -> tuple[str, tuple[float, ...]]:
    """SQL selecting one count per bucket of BUCKETS, in order, of the rows whose lateness is the
    expression `seconds` (SQL of ours, never outside text), and the bounds it binds, in order;
    `named`: each count named as its bucket."""
    edges: tuple[float | None, ...] = (None, *BUCKET_BOUNDS, None)
    columns: list[str] = []
    params: list[float] = []
    for name, (lower, upper) in zip(BUCKETS, pairwise(edges), strict=True):
        tests: list[str] = []
        if lower is not None:
            tests.append(f"{seconds} > ?")
            params.append(lower)
        if upper is not None:
            tests.append(f"{seconds} <= ?")
            params.append(upper)
        columns.append(f"count(*) FILTER (WHERE {' AND '.join(tests)})" + (f' AS "{name}"' if named else ""))
    return ", ".join(columns), tuple(params)


def _summary(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    total = {k: sum(int(p[k]) for p in parts) for k in COUNTS}
    return {
        "versions": total["versions"],
        "buckets": {k: total[k] for k in BUCKETS},
        "after_lookback": total["after_lookback"],
        "after_lookback_share": round(total["after_lookback"] / total["versions"], 4) if total["versions"] else 0.0,
        "over_budget": total["over_budget"],
        "clock_skew": total["clock_skew"],
        "unstamped": total["unstamped"],
        "max_lateness_seconds": max(float(p["max_lateness_seconds"]) for p in parts),
    }


def over_budget(wh: Warehouse, tenant: Tenant, now: datetime, budget_days: float, days: int = STATUS_DAYS) -> int:
    """Versions of the tenant's last `days` order dates that landed later than the budget."""
    params = (tenant.tenant_id, first_date(tenant, now, days), budget_days * DAY_SECONDS)
    return int(wh.scalar(_OVER_BUDGET, params) or 0)
