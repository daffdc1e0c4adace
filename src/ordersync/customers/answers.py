"""What `ordersync customers` answers: who the champions are, who is at risk, what each customer is
worth, one customer's whole picture, and the tenant's CLV model. Keys only leave with identifiers
masked."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ordersync.customers.identifiers import Identifier, IdKind, email_identifier, mask
from ordersync.customers.store import latest_model
from ordersync.errors import ConfigError, NotFoundError
from ordersync.paging import money, unpack
from ordersync.warehouse import Warehouse

#: the list's columns, in order (`--csv` writes them as they are)
COLUMNS = (
    "tenant",
    "customer_key",
    "segment",
    "stage",
    "r",
    "f",
    "m",
    "purchases",
    "net_revenue",
    "currency",
    "last_purchase_at",
    "p_alive",
    "clv_12m",
)


#: the list's order: the most valuable first (12-month CLV, customers without one last, then net
#: revenue), ties by tenant and key; `_after` is its keyset predicate
_ORDER = "x.clv_12m DESC NULLS LAST, x.net_revenue DESC, x.tenant, x.customer_key"


#: the tables a listed customer's columns come from: (join, table, alias)
_SCORES = (
    ("JOIN", "customer_profiles", "p"),
    ("LEFT JOIN", "customer_rfm", "r"),
    ("LEFT JOIN", "customer_journey", "j"),
    ("LEFT JOIN", "customer_clv", "c"),
)


def list_customers(
    wh: Warehouse,
    tenant_id: int | None,
    *,
    segment: str | None = None,
    stage: str | None = None,
    top: int | None = None,
    after: tuple[Any, ...] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Customers with their scores, the most valuable first (12-month CLV, then net revenue): the
    `top` most valuable when given; of those, at most `limit` coming after the customer keyed `after`
    (a `customer_key_of`, one tenant's list only).

    The order is found on the columns it reads (profiles and CLV, filtered by segment and stage), and
    the other columns are joined to the chosen customers only: a page of a large tenant sorts narrow
    rows and joins its own."""
    joins, clauses, params = "", ["1 = 1"], list[Any]()
    if segment is not None:
        joins += " JOIN cdp.customer_rfm fr ON fr.tenant_id = p.tenant_id AND fr.customer_key = p.customer_key"
        clauses.append("fr.segment = ?")
        params.append(segment)
    if stage is not None:
        joins += " JOIN cdp.customer_journey fj ON fj.tenant_id = p.tenant_id AND fj.customer_key = p.customer_key"
        clauses.append("fj.stage = ?")
        params.append(stage)
    if tenant_id is not None:
        clauses.append("p.tenant_id = ?")
        params.append(tenant_id)
    chosen = (
        "SELECT p.tenant_id, t.tenant_name AS tenant, p.customer_key, p.net_revenue, c.clv_12m "
        "FROM cdp.customer_profiles p JOIN cdp.tenants t ON t.tenant_id = p.tenant_id "
        "LEFT JOIN cdp.customer_clv c ON c.tenant_id = p.tenant_id AND c.customer_key = p.customer_key"
        f"{joins} WHERE {' AND '.join(clauses)}"
    )
    if top is not None:  # the top N first, then the page among them (those after the cursor)
        chosen = f"SELECT * FROM ({chosen}) x ORDER BY {_ORDER} LIMIT ?"
        params.append(int(top))
    where = ""
    if after is not None:
        if tenant_id is None:
            raise ConfigError("a page of customers is one tenant's")
        where, more = _after(after)
        params += more
    chosen = f"SELECT * FROM ({chosen}) x{where} ORDER BY {_ORDER}"
    if limit is not None:
        chosen += " LIMIT ?"
        params.append(int(limit))
    # one tenant's list names its tenant in every join: DuckDB may build a join's hash table from
    # the joined table, every tenant's rows of it, rather than from the few chosen customers
    joined = ""
    for kind, table, alias in _SCORES:
        joined += (
            f" {kind} cdp.{table} {alias} ON {alias}.tenant_id = x.tenant_id AND {alias}.customer_key = x.customer_key"
        )
        if tenant_id is not None:
            joined += f" AND {alias}.tenant_id = ?"
            params.append(tenant_id)
    sql = (
        "SELECT x.tenant, x.customer_key, r.segment, j.stage, r.r_score, r.f_score, r.m_score, p.purchases, "
        f"x.net_revenue, p.currency_code, p.last_purchase_at, c.p_alive, x.clv_12m FROM ({chosen}) x{joined} "
        f"ORDER BY {_ORDER}"
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in wh.query(sql, params)]


def customer_key_of(item: dict[str, Any]) -> tuple[Any, ...]:
    """A `list_customers` item's place in its tenant's list: its CLV and net revenue exactly (as text)
    and its key."""
    clv = item["clv_12m"]
    return (None if clv is None else str(clv), str(item["net_revenue"]), item["customer_key"])


def _after(after: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """The keyset predicate of `_ORDER` (one tenant's): customers without a CLV come after every one
    with a CLV, as NULLS LAST places them."""
    clv, net, key = unpack(after, _money_or_none, money, str)
    tail = "(x.net_revenue < ? OR (x.net_revenue = ? AND x.customer_key > ?))"
    if clv is None:
        return f" WHERE x.clv_12m IS NULL AND {tail}", [net, net, key]
    return (
        f" WHERE (x.clv_12m < ? OR x.clv_12m IS NULL OR (x.clv_12m = ? AND {tail}))",
        [clv, clv, net, net, key],
    )


def _money_or_none(value: Any) -> Decimal | None:
    return None if value is None else money(value)


def customer_counts(wh: Warehouse, tenant_id: int) -> dict[str, dict[str, int]]:
    """How many of the tenant's customers are in each RFM segment and each journey stage ("none":
    not scored yet), from one pass over the tenant's customers."""
    rows = wh.query(
        "SELECT coalesce(nullif(r.segment, ''), 'none'), coalesce(nullif(j.stage, ''), 'none'), count(*) "
        "FROM cdp.customer_profiles p "
        "LEFT JOIN cdp.customer_rfm r ON r.tenant_id = p.tenant_id AND r.customer_key = p.customer_key "
        "LEFT JOIN cdp.customer_journey j ON j.tenant_id = p.tenant_id AND j.customer_key = p.customer_key "
        "WHERE p.tenant_id = ? GROUP BY 1, 2",
        (tenant_id,),
    )
    found: dict[str, dict[str, int]] = {"segment": {}, "stage": {}}
    for segment, stage, n in rows:
        for kind, label in (("segment", str(segment)), ("stage", str(stage))):
            found[kind][label] = found[kind].get(label, 0) + int(n)
    return {kind: dict(sorted(counts.items())) for kind, counts in found.items()}


def key_by_email(wh: Warehouse, tenant_id: int, email: str) -> str:
    """The customer an email belongs to (normalised as identity reads it)."""
    ident = email_identifier(email)
    if ident is None:
        raise NotFoundError(f"{email!r} is not an email identity uses (masked or placeholder addresses are not)")
    return key_of(wh, tenant_id, ident)


def key_of(wh: Warehouse, tenant_id: int, identifier: Identifier) -> str:
    """The customer an identifier (normalised as identity reads it) belongs to."""
    row = wh.query_one(
        "SELECT c.customer_key FROM cdp.customer_identifiers i JOIN cdp.customer_orders c "
        "ON c.tenant_id = i.tenant_id AND c.order_id = i.order_id "
        "WHERE i.tenant_id = ? AND i.kind = ? AND i.value = ? LIMIT 1",
        (tenant_id, identifier.kind.value, identifier.value),
    )
    if row is None:
        raise NotFoundError(f"no customer of this tenant has that {identifier.kind.value}")
    return str(row[0])


def show(wh: Warehouse, tenant_id: int, key: str) -> dict[str, Any]:
    """One customer: profile, scores, stage, CLV, orders, identifiers (masked) and events."""
    found = list_customers_by_key(wh, tenant_id, key)
    if found is None:
        raise NotFoundError(f"no customer {key!r} in this tenant; ordersync customers lists them")
    orders = wh.query_dicts(
        "SELECT f.order_id, f.creation_date, f.order_date, f.status, f.total_value, f.currency_code, f.sales_channel "
        "FROM cdp.customer_orders c JOIN cdp.fct_orders f ON f.tenant_id = c.tenant_id AND f.order_id = c.order_id "
        "WHERE c.tenant_id = ? AND c.customer_key = ? ORDER BY f.creation_date, f.order_id",
        (tenant_id, key),
    )
    ids = wh.query(
        "SELECT DISTINCT i.kind, i.value FROM cdp.customer_identifiers i JOIN cdp.customer_orders c "
        "ON c.tenant_id = i.tenant_id AND c.order_id = i.order_id WHERE c.tenant_id = ? AND c.customer_key = ? "
        "ORDER BY i.kind, i.value",
        (tenant_id, key),
    )
    events = wh.query_dicts(
        "SELECT event_id, kind, from_value, to_value, occurred_on, initial FROM cdp.customer_events "
        "WHERE tenant_id = ? AND customer_key = ? ORDER BY occurred_on, event_id",
        (tenant_id, key),
    )
    return {
        **found,
        "identifiers": [mask(Identifier(IdKind(k), v)) for k, v in ids],
        "orders": orders,
        "events": events,
    }


def list_customers_by_key(wh: Warehouse, tenant_id: int, key: str) -> dict[str, Any] | None:
    row = wh.query_dicts(
        "SELECT p.customer_key, p.orders, p.purchases, p.purchase_days, p.first_purchase_at, p.last_purchase_at, "
        "p.net_revenue, p.average_order_value, p.currency_code, p.preferred_sales_channel, p.last_status, "
        "r.recency_days, r.frequency, r.monetary, r.r_score, r.f_score, r.m_score, r.segment, r.previous_segment, "
        "r.segment_changed_at, j.stage, j.previous_stage, j.stage_changed_at, c.p_alive, c.expected_30d, "
        "c.expected_90d, c.expected_365d, c.expected_spend, c.clv_12m, c.model_version "
        "FROM cdp.customer_profiles p "
        "LEFT JOIN cdp.customer_rfm r ON r.tenant_id = p.tenant_id AND r.customer_key = p.customer_key "
        "LEFT JOIN cdp.customer_journey j ON j.tenant_id = p.tenant_id AND j.customer_key = p.customer_key "
        "LEFT JOIN cdp.customer_clv c ON c.tenant_id = p.tenant_id AND c.customer_key = p.customer_key "
        "WHERE p.tenant_id = ? AND p.customer_key = ?",
        (tenant_id, key),
    )
    return row[0] if row else None


def model(wh: Warehouse, tenant_id: int) -> dict[str, Any] | None:
    """The tenant's CLV model as last fitted (or why it is not ready)."""
    m = latest_model(wh, tenant_id)
    if m is None:
        return None
    return {
        "version": m.version,
        "fit_date": m.fit_date.isoformat(),
        "ready": m.ready,
        "reason": m.reason,
        "model": m.model.as_dict() if m.model else None,
        "report": m.report,
    }


def runs(wh: Warehouse, tenant_id: int | None, limit: int = 20) -> list[dict[str, Any]]:
    sql = (
        "SELECT r.run_id, t.tenant_name AS tenant, r.kind, r.status, r.started_at, r.finished_at, r.scoring_date, "
        "r.customers, r.changes, r.findings, r.error FROM cdp.customer_runs r JOIN cdp.tenants t "
        "ON t.tenant_id = r.tenant_id"
    )
    params: list[Any] = []
    if tenant_id is not None:
        sql += " WHERE r.tenant_id = ?"
        params.append(tenant_id)
    sql += f" ORDER BY r.started_at DESC LIMIT {int(limit)}"
    rows = wh.query_dicts(sql, params)
    for r in rows:
        r["findings"] = json.loads(r["findings"]) if r["findings"] else {}
    return rows
