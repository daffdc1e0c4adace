"""What the customers step reads from the warehouse: the orders a build wrote, and each customer's
history as aggregates computed by the warehouse (never by parsing payloads).

A purchase is an order of `fct_orders` that is valid and not pending under `[orders]`: the
predicates of transform/dbt/macros/revenue.sql, rendered (warehouse.macros.revenue_rule), so the
customers count exactly what revenue counts. A purchase day is the order's `order_date` (the day in
the tenant's zone). Money (M, CLV) counts in the tenant's main currency only (the currency most of
its purchases are in); purchases in other currencies count for R and F.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ordersync.config import OrdersSettings
from ordersync.warehouse import Warehouse
from ordersync.warehouse.macros import revenue_rule

#: The identifier columns an order carries (fct_orders, raw as landed).
ORDER_IDENTIFIERS = ("customer_id", "customer_email", "customer_document", "customer_document_type", "customer_phone")


class OrderIds(NamedTuple):
    """An order's identifiers as landed, and when it was created (the oldest order's key survives).
    A named tuple: a full recompute makes one for every order of the tenant."""

    order_id: str
    creation_date: datetime
    customer_id: str | None
    customer_email: str | None
    customer_document: str | None
    customer_document_type: str | None
    customer_phone: str | None


@dataclass(frozen=True)
class Facts:
    """One customer's whole history, as the warehouse aggregates it at a scoring date."""

    customer_key: str
    orders: int
    purchases: int
    purchase_days: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    first_purchase_day: date | None
    last_purchase_day: date | None
    #: net revenue of all purchases in the main currency
    net_revenue: Decimal
    #: purchases and main-currency revenue in the RFM window (scoring date - rfm_window_days, date]
    window_purchases: int
    window_revenue: Decimal
    #: main-currency revenue of the purchase days after the first (CLV's repeat spend)
    repeat_revenue: Decimal
    #: purchase days in the main currency (CLV's x + 1)
    money_days: int
    preferred_sales_channel: str | None
    last_status: str | None
    #: the purchase day before the last one (the journey tells a comeback by it)
    before_last_purchase_day: date | None
    #: the first and last purchase days in the main currency (CLV's calibration)
    money_first_day: date | None
    money_last_day: date | None


def _ids_sql(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in ORDER_IDENTIFIERS)


#: autovacuum's defaults: a table is analyzed once this many rows plus this share of it changed
ANALYZE_THRESHOLD, ANALYZE_SCALE = 50, 0.1


def fresh_statistics(wh: Warehouse) -> None:
    """PostgreSQL: analyze fct_orders when it never was, or more of it changed since its
    statistics were taken than autovacuum lets pass (a server without autovacuum, or before it
    came round): without them the planner read a whole tenant's orders to score a step's few
    hundred customers (0.5 s instead of 0.1 s at the seed's scale). What another session committed
    in the last second may not be counted yet; the next run sees it."""
    if wh.dialect != "postgres":
        return
    stale = wh.scalar(
        "SELECT coalesce(s.last_analyze, s.last_autoanalyze) IS NULL "
        "OR s.n_mod_since_analyze > ? + ? * greatest(c.reltuples, 0) "
        "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE s.schemaname = 'cdp' AND s.relname = 'fct_orders'",
        (ANALYZE_THRESHOLD, ANALYZE_SCALE),
    )
    if stale:
        wh.execute("ANALYZE cdp.fct_orders")


def changed_orders(wh: Warehouse, tenant_id: int, since: datetime | None) -> tuple[list[OrderIds], datetime | None]:
    """The orders builds wrote since `since` (their `built_at`; all when None), and the newest
    `built_at` among them (the step's next watermark). Orders whose person was forgotten are none
    of any customer's (customers/forget.py)."""
    where, params = "f.tenant_id = ?", list[Any]([tenant_id])
    if since is not None:
        where += " AND f.built_at > ?"
        params.append(since)
    # The watermark first, by itself (a time zone-aware timestamp costs the driver more than the rest
    # of an order's row), then the orders: one a build commits in between (PostgreSQL's statements
    # each see the latest commits) is read now and again by the next step, never skipped.
    high = wh.scalar(f"SELECT max(f.built_at) FROM cdp.fct_orders f WHERE {where}", params)
    if high is None:
        return [], None
    rows = wh.query(
        f"SELECT f.order_id, f.creation_date, {_ids_sql('f')} "
        "FROM cdp.fct_orders f LEFT JOIN cdp.forgotten_orders g "
        "ON g.tenant_id = f.tenant_id AND g.order_id = f.order_id "
        f"WHERE {where} AND g.order_id IS NULL",
        params,
    )
    return [OrderIds._make(r) for r in rows], high


def vanished_orders(wh: Warehouse, tenant_id: int) -> list[str]:
    """Orders the customers map holds that fct_orders no longer does (every version withdrawn)."""
    rows = wh.query(
        "SELECT c.order_id FROM cdp.customer_orders c LEFT JOIN cdp.fct_orders f "
        "ON f.tenant_id = c.tenant_id AND f.order_id = c.order_id WHERE c.tenant_id = ? AND f.order_id IS NULL",
        (tenant_id,),
    )
    return [str(r[0]) for r in rows]


def main_currency(wh: Warehouse, dialect: str, orders: OrdersSettings, tenant_id: int) -> str | None:
    """The currency most of the tenant's purchases are in (ties: the first in alphabetical order)."""
    rule = revenue_rule(dialect, orders, "f")
    row = wh.query_one(
        f"SELECT f.currency_code FROM cdp.fct_orders f WHERE f.tenant_id = ? AND coalesce({rule['valid']}, false) "
        f"AND NOT coalesce({rule['pending']}, false) AND f.currency_code IS NOT NULL "
        "GROUP BY f.currency_code ORDER BY count(*) DESC, f.currency_code LIMIT 1",
        (tenant_id,),
    )
    return None if row is None else str(row[0])


def facts(
    wh: Warehouse,
    dialect: str,
    orders: OrdersSettings,
    tenant_id: int,
    *,
    keys: Sequence[str] | None,
    scoring_date: date,
    window_days: int,
    currency: str | None,
) -> list[Facts]:
    """Each customer's aggregates from whole history up to `scoring_date` (orders of later days are
    not yet history), for `keys` (None: every customer of the tenant), in key order."""
    rule = revenue_rule(dialect, orders, "f")
    purchase = f"(coalesce({rule['valid']}, false) AND NOT coalesce({rule['pending']}, false))"
    key_filter, params = "", list[Any]([tenant_id, scoring_date])
    if keys is not None:
        key_filter = " AND c.customer_key IN (SELECT unnest(CAST(? AS TEXT[])))"
        params.append(list(keys))
    window_from = f"CAST(? AS DATE) - {int(window_days)}"
    sql = f"""
WITH o AS (
    SELECT c.tenant_id, c.customer_key, f.order_id, f.order_date, f.creation_date, f.status, f.sales_channel,
           f.total_value, {purchase} AS is_purchase, (f.currency_code = ?) AS in_main
    FROM cdp.customer_orders c
    JOIN cdp.fct_orders f ON f.tenant_id = c.tenant_id AND f.order_id = c.order_id
    WHERE c.tenant_id = ? AND f.order_date <= ?{key_filter}
),
p AS (SELECT * FROM o WHERE is_purchase),
money_days AS (
    SELECT tenant_id, customer_key, order_date, sum(total_value) AS day_value,
           row_number() OVER (PARTITION BY customer_key ORDER BY order_date) AS day_rank
    FROM p WHERE in_main GROUP BY tenant_id, customer_key, order_date
),
money AS (
    SELECT tenant_id, customer_key, count(*) AS money_days,
           coalesce(sum(CASE WHEN day_rank > 1 THEN day_value END), 0) AS repeat_revenue,
           min(order_date) AS money_first_day, max(order_date) AS money_last_day
    FROM money_days GROUP BY tenant_id, customer_key
),
recent_days AS (
    SELECT tenant_id, customer_key, order_date,
           row_number() OVER (PARTITION BY customer_key ORDER BY order_date DESC) AS day_rank
    FROM (SELECT DISTINCT tenant_id, customer_key, order_date FROM p) d
),
channel AS (
    SELECT tenant_id, customer_key, sales_channel,
           row_number() OVER (PARTITION BY customer_key ORDER BY count(*) DESC, max(creation_date) DESC,
                              sales_channel) AS channel_rank
    FROM p WHERE sales_channel IS NOT NULL GROUP BY tenant_id, customer_key, sales_channel
),
latest AS (
    SELECT tenant_id, customer_key, status,
           row_number() OVER (PARTITION BY customer_key ORDER BY creation_date DESC, order_id DESC) AS status_rank
    FROM o
),
agg AS (
    SELECT tenant_id, customer_key,
           count(*) AS orders,
           count(*) FILTER (WHERE is_purchase) AS purchases,
           count(DISTINCT CASE WHEN is_purchase THEN order_date END) AS purchase_days,
           min(CASE WHEN is_purchase THEN creation_date END) AS first_purchase_at,
           max(CASE WHEN is_purchase THEN creation_date END) AS last_purchase_at,
           min(CASE WHEN is_purchase THEN order_date END) AS first_purchase_day,
           max(CASE WHEN is_purchase THEN order_date END) AS last_purchase_day,
           coalesce(sum(CASE WHEN is_purchase AND in_main THEN total_value END), 0) AS net_revenue,
           count(*) FILTER (WHERE is_purchase AND order_date > {window_from}) AS window_purchases,
           coalesce(sum(CASE WHEN is_purchase AND in_main AND order_date > {window_from} THEN total_value END), 0)
               AS window_revenue
    FROM o GROUP BY tenant_id, customer_key
)
SELECT a.customer_key, a.orders, a.purchases, a.purchase_days, a.first_purchase_at, a.last_purchase_at,
       a.first_purchase_day, a.last_purchase_day, a.net_revenue, a.window_purchases, a.window_revenue,
       coalesce(m.repeat_revenue, 0), coalesce(m.money_days, 0), ch.sales_channel, l.status, rd.order_date,
       m.money_first_day, m.money_last_day
FROM agg a
LEFT JOIN money m ON m.tenant_id = a.tenant_id AND m.customer_key = a.customer_key
LEFT JOIN channel ch ON ch.tenant_id = a.tenant_id AND ch.customer_key = a.customer_key AND ch.channel_rank = 1
LEFT JOIN latest l ON l.tenant_id = a.tenant_id AND l.customer_key = a.customer_key AND l.status_rank = 1
LEFT JOIN recent_days rd ON rd.tenant_id = a.tenant_id AND rd.customer_key = a.customer_key AND rd.day_rank = 2
ORDER BY a.customer_key
"""
    all_params: list[Any] = [currency, *params, scoring_date, scoring_date]
    rows = wh.query(sql, all_params)
    return [_facts(r) for r in rows]


def _facts(r: Sequence[Any]) -> Facts:
    return Facts(
        customer_key=str(r[0]),
        orders=int(r[1]),
        purchases=int(r[2]),
        purchase_days=int(r[3]),
        first_purchase_at=r[4],
        last_purchase_at=r[5],
        first_purchase_day=r[6],
        last_purchase_day=r[7],
        net_revenue=Decimal(r[8]),
        window_purchases=int(r[9]),
        window_revenue=Decimal(r[10]),
        repeat_revenue=Decimal(r[11]),
        money_days=int(r[12]),
        preferred_sales_channel=r[13],
        last_status=r[14],
        before_last_purchase_day=r[15],
        money_first_day=r[16],
        money_last_day=r[17],
    )


def purchase_rows(
    wh: Warehouse, dialect: str, orders: OrdersSettings, tenant_id: int, scoring_date: date
) -> tuple[list[str], list[date]]:
    """Every customer's distinct purchase days up to the scoring date (the journey's thresholds are
    drawn from their intervals)."""
    rule = revenue_rule(dialect, orders, "f")
    purchase = f"(coalesce({rule['valid']}, false) AND NOT coalesce({rule['pending']}, false))"
    rows = wh.query(
        "SELECT DISTINCT c.customer_key, f.order_date FROM cdp.customer_orders c "
        "JOIN cdp.fct_orders f ON f.tenant_id = c.tenant_id AND f.order_id = c.order_id "
        f"WHERE c.tenant_id = ? AND f.order_date <= ? AND {purchase}",
        (tenant_id, scoring_date),
    )
    return [str(r[0]) for r in rows], [r[1] for r in rows]
