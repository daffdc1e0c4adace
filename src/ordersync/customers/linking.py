"""Which customer each order belongs to, kept as orders change: the warehouse side of identity.

Each order's identifiers are normalised once, when a build writes the order (from fct_orders'
columns, never its payload), and kept in cdp.customer_identifiers. When orders change, the step
re-resolves only the part of the tenant's graph they can touch: the customers the changed (and
vanished) orders belonged to, and every order sharing a value with them, before or after. Customers
outside it cannot change: their orders share no value with the changed ones. The blocked values
(shared by more than `max_platform_ids` platform ids) are counted over the whole tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from ordersync.customers.history import OrderIds
from ordersync.customers.identifiers import Identifier, IdKind, identifiers_of
from ordersync.customers.keys import IdentityKeys
from ordersync.customers.resolve import OrderIdentity, Resolution, resolve
from ordersync.warehouse import Warehouse

#: Orders moved at once past which PostgreSQL's statistics of the customers' tables are refreshed,
#: when they are also more than STALE_SHARE of the rows the statistics know of (autovacuum's rule).
ANALYZE_AFTER = 500
STALE_SHARE = 0.1


@dataclass
class Linked:
    """What a linking pass changed: customers before and after (dirty), merges and splits."""

    dirty: set[str] = field(default_factory=set)
    resolution: Resolution | None = None
    orders: int = 0


def _identified(changed: Sequence[OrderIds], country: str | None) -> dict[str, tuple[Identifier, ...]]:
    """Each order's identifiers, each distinct combination of raw values read once (a customer's
    orders repeat theirs: at the seed's scale 155,777 orders carry 50,698 combinations)."""
    read: dict[tuple[str | None, ...], tuple[Identifier, ...]] = {}
    found: dict[str, tuple[Identifier, ...]] = {}
    for o in changed:
        raw = (o.customer_id, o.customer_email, o.customer_document, o.customer_document_type, o.customer_phone)
        ids = read.get(raw)
        if ids is None:
            ids = read[raw] = tuple(identifiers_of(*raw, country=country))
        found[o.order_id] = ids
    return found


def _pairs(wh: Warehouse, tenant_id: int, order_ids: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """The stored identifiers of these orders (None: of every order of the tenant)."""
    if order_ids is None:
        rows = wh.query("SELECT order_id, kind, value FROM cdp.customer_identifiers WHERE tenant_id = ?", (tenant_id,))
        return cast(list[tuple[str, str, str]], rows)
    if not order_ids:
        return []
    rows = wh.query(
        "SELECT order_id, kind, value FROM cdp.customer_identifiers "
        "WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, list(order_ids)),
    )
    return cast(list[tuple[str, str, str]], rows)


def _links(wh: Warehouse, tenant_id: int, order_ids: Iterable[str]) -> dict[str, tuple[str, datetime]]:
    """order id -> (customer key, creation time) as stored for these orders."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = wh.query(
        "SELECT order_id, customer_key, created_at FROM cdp.customer_orders "
        "WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, ids),
    )
    return {oid: (key, at) for oid, key, at in rows}


def _tenant_links(wh: Warehouse, tenant_id: int) -> dict[str, tuple[str, bool]]:
    """order id -> (customer key, whether its stored creation time is no longer fct_orders'), for
    every order of the tenant: compared by the warehouse (a time zone-aware timestamp costs the
    driver more than the rest of the row)."""
    rows = wh.query(
        "SELECT c.order_id, c.customer_key, f.creation_date IS NULL OR c.created_at <> f.creation_date "
        "FROM cdp.customer_orders c LEFT JOIN cdp.fct_orders f "
        "ON f.tenant_id = c.tenant_id AND f.order_id = c.order_id WHERE c.tenant_id = ?",
        (tenant_id,),
    )
    return {oid: (key, bool(moved)) for oid, key, moved in rows}


def _orders_with(wh: Warehouse, tenant_id: int, values: Iterable[tuple[str, str]]) -> set[str]:
    kinds, texts = [], []
    for kind, value in set(values):
        kinds.append(kind)
        texts.append(value)
    if not kinds:
        return set()
    rows = wh.query(
        "SELECT DISTINCT i.order_id FROM cdp.customer_identifiers i WHERE i.tenant_id = ? "
        "AND (i.kind, i.value) IN (SELECT unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])))",
        (tenant_id, kinds, texts),
    )
    return {str(r[0]) for r in rows}


def _orders_of_keys(wh: Warehouse, tenant_id: int, keys: Iterable[str]) -> dict[str, str]:
    ks = list(set(keys))
    if not ks:
        return {}
    rows = wh.query(
        "SELECT order_id, customer_key FROM cdp.customer_orders "
        "WHERE tenant_id = ? AND customer_key IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, ks),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def _blocked(
    wh: Warehouse, tenant_id: int, values: Iterable[tuple[str, str]], max_platform_ids: int
) -> set[tuple[str, str]]:
    """Values (other than platform ids) shared by more than `max_platform_ids` platform ids."""
    candidates = [(k, v) for k, v in set(values) if k != IdKind.PLATFORM.value]
    if not candidates:
        return set()
    rows = wh.query(
        "SELECT i.kind, i.value FROM cdp.customer_identifiers i "
        "JOIN cdp.customer_identifiers p ON p.tenant_id = i.tenant_id AND p.order_id = i.order_id AND p.kind = ? "
        "WHERE i.tenant_id = ? "
        "AND (i.kind, i.value) IN (SELECT unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[]))) "
        "GROUP BY i.kind, i.value HAVING count(DISTINCT p.value) > ?",
        (IdKind.PLATFORM.value, tenant_id, [k for k, _ in candidates], [v for _, v in candidates], max_platform_ids),
    )
    return {(str(r[0]), str(r[1])) for r in rows}


def link(
    wh: Warehouse,
    tenant_id: int,
    changed: Sequence[OrderIds],
    vanished: Sequence[str],
    *,
    keys: IdentityKeys,
    country: str | None,
    max_platform_ids: int,
    whole: bool = False,
) -> Linked:
    """Re-resolve the customers `changed` and `vanished` orders can touch, and write the result
    (cdp.customer_identifiers, cdp.customer_orders). Call inside the step's transaction.

    `whole`: `changed` holds every order of the tenant (its first computation, a full recompute).
    Its stored identifiers and links are then read once by tenant and the graph is resolved from the
    identifiers just read: sending lists of every order id back to the warehouse took most of a
    full recompute."""
    linked = Linked()
    touched_ids = [o.order_id for o in changed] + list(vanished)
    if not touched_ids:
        return linked
    new_ids = _identified(changed, country)
    # (order id, kind, value): a kind is a StrEnum, equal to the text the warehouse holds
    rows = [(oid, kind, value) for oid, ids in new_ids.items() for kind, value in ids]
    gone = set(vanished)
    if whole:
        _write_identifiers(wh, tenant_id, touched_ids, _pairs(wh, tenant_id, None), rows)
        stored = _tenant_links(wh, tenant_id)
        previous = {oid: key for oid, (key, _) in stored.items()}
        region = set(new_ids) - gone
        nodes = [
            OrderIdentity(o.order_id, o.creation_date, new_ids[o.order_id]) for o in changed if o.order_id in region
        ]
        previous_here = {oid: key for oid, key in previous.items() if oid in region}
        # no key an order outside the graph still holds (a vanished one's) is given as a new key
        outside = {key for oid, key in previous.items() if oid not in region}
        resolution = resolve(tenant_id, nodes, previous_here, keys, max_platform_ids=max_platform_ids, taken=outside)
        refreshed = {oid for oid in new_ids if oid in region and stored.get(oid, ("", True))[1]}
    else:
        before_pairs = _pairs(wh, tenant_id, touched_ids)
        _write_identifiers(wh, tenant_id, touched_ids, before_pairs, rows)
        values = {(k, v) for _, k, v in before_pairs} | {(k, v) for _, k, v in rows}
        sharing = _orders_with(wh, tenant_id, values)
        previous = {oid: key for oid, (key, _) in _links(wh, tenant_id, [*touched_ids, *sharing]).items()}
        previous |= _orders_of_keys(wh, tenant_id, previous.values())
        region = (set(previous) | sharing | set(new_ids)) - gone
        nodes = _nodes(wh, tenant_id, sorted(region), changed)
        blocked = _blocked(
            wh, tenant_id, {(i.kind.value, i.value) for n in nodes for i in n.identifiers}, max_platform_ids
        )
        ignored = {Identifier(IdKind(k), v) for k, v in blocked}
        previous_here = {oid: k for oid, k in previous.items() if oid in region}
        resolution = resolve(tenant_id, nodes, previous_here, keys, ignored_identifiers=ignored)
        new_keys = set(resolution.assignment.values()) - set(previous_here.values())
        clash = _held_elsewhere(wh, tenant_id, new_keys, region)
        if clash:  # a key derived again that a customer outside the region holds: never reuse it
            resolution = resolve(tenant_id, nodes, previous_here, keys, ignored_identifiers=ignored, taken=clash)
        before = {oid: at for oid, (_, at) in _links(wh, tenant_id, set(new_ids) & region).items()}
        refreshed = {n.order_id for n in nodes if n.order_id in new_ids and before.get(n.order_id) != n.created_at}
    linked.resolution = resolution
    linked.orders = len(nodes)
    linked.dirty = set(previous.values()) | set(resolution.assignment.values())
    created = {n.order_id: n.created_at for n in nodes}
    _write(wh, tenant_id, resolution.assignment, previous, gone, created, refreshed)
    return linked


def _write_identifiers(
    wh: Warehouse,
    tenant_id: int,
    touched_ids: Sequence[str],
    before: Sequence[tuple[str, str, str]],
    after: Sequence[tuple[str, str, str]],
) -> None:
    """Write the identifiers of the touched orders whose set changed; the others are left as they
    are (a full recompute touches every order and changes none: rewriting them all cost a commit of
    tens of seconds at 30,000 customers, DuckDB's most of all). `before` may hold other orders'."""
    touched = set(touched_ids)
    differ = {r[0] for r in set(before).symmetric_difference(after)}
    rewrite = sorted(oid for oid in differ if oid in touched)
    if not rewrite:
        return
    wh.execute(
        "DELETE FROM cdp.customer_identifiers WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, rewrite),
    )
    again = set(rewrite)
    rows = [r for r in after if r[0] in again]
    if rows:
        wh.execute(
            "INSERT INTO cdp.customer_identifiers (tenant_id, order_id, kind, value) "
            "SELECT ?, unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[]))",
            (tenant_id, [r[0] for r in rows], [str(r[1]) for r in rows], [r[2] for r in rows]),
        )


def _nodes(wh: Warehouse, tenant_id: int, order_ids: Sequence[str], changed: Sequence[OrderIds]) -> list[OrderIdentity]:
    created = {o.order_id: o.creation_date for o in changed}
    missing = [oid for oid in order_ids if oid not in created]
    created |= {oid: at for oid, (_, at) in _links(wh, tenant_id, missing).items()}
    values: dict[str, list[Identifier]] = {oid: [] for oid in order_ids}
    for oid, kind, value in _pairs(wh, tenant_id, order_ids):
        values[oid].append(Identifier(IdKind(kind), value))
    return [OrderIdentity(oid, created[oid], tuple(values[oid])) for oid in order_ids]


def _held_elsewhere(wh: Warehouse, tenant_id: int, keys: set[str], region: set[str]) -> set[str]:
    """Those of `keys` that orders outside `region` belong to."""
    if not keys:
        return set()
    rows = wh.query(
        "SELECT DISTINCT customer_key, order_id FROM cdp.customer_orders "
        "WHERE tenant_id = ? AND customer_key IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, sorted(keys)),
    )
    return {str(k) for k, oid in rows if str(oid) not in region}


def _write(
    wh: Warehouse,
    tenant_id: int,
    assignment: dict[str, str],
    previous: dict[str, str],
    gone: set[str],
    created: dict[str, datetime],
    refreshed: set[str],
) -> None:
    if gone:
        wh.execute(
            "DELETE FROM cdp.customer_orders WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
            (tenant_id, sorted(gone)),
        )
    # moved to another customer, or written again (its creation time changed)
    moved = sorted(oid for oid, key in assignment.items() if previous.get(oid) != key or oid in refreshed)
    if not moved:
        return
    wh.execute(
        "DELETE FROM cdp.customer_orders WHERE tenant_id = ? AND order_id IN (SELECT unnest(CAST(? AS TEXT[])))",
        (tenant_id, moved),
    )
    wh.execute(
        "INSERT INTO cdp.customer_orders (tenant_id, order_id, customer_key, created_at) "
        "SELECT ?, unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TEXT[])), unnest(CAST(? AS TIMESTAMPTZ[]))",
        (tenant_id, moved, [assignment[o] for o in moved], [created[o] for o in moved]),
    )
    if wh.dialect == "postgres" and len(moved) >= ANALYZE_AFTER:
        # fresh statistics, or PostgreSQL plans the history's join of a table it believes empty
        # as a nested loop over fct_orders (seconds for a few thousand orders); not when the
        # statistics still hold (a step adding 500 orders to 155,777 spent most of its time here)
        known = wh.scalar("SELECT reltuples FROM pg_class WHERE oid = CAST('cdp.customer_orders' AS regclass)")
        if known is None or len(moved) > STALE_SHARE * max(float(known), 0.0):
            wh.execute("ANALYZE cdp.customer_orders")
            wh.execute("ANALYZE cdp.customer_identifiers")
