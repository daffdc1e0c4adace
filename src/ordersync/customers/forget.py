"""`ordersync customers forget`: one person taken out of a tenant's data, in one transaction.

Deleted: their identifiers, their place in the customers map, profile, scores, journey, change
events and the merges and splits naming them. Redacted, where the orders themselves must stay for
revenue (land/redaction.py): every landed version of their orders (`payload_hash` kept), the person
columns of fct_orders, plan versions, and quarantined records of their orders or holding one of
their identifiers. Their orders are listed in cdp.forgotten_orders: later versions land redacted,
and the customers step leaves them out of every customer. What is recorded of it is the key alone
(cdp.customer_forgotten), with who asked and when.

An order the person places after this is a new one: it makes them a customer again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ordersync.customers import store
from ordersync.customers.identifiers import Identifier, document_identifier, email_identifier
from ordersync.errors import NotFoundError
from ordersync.land.lander import decode_raw, encode_raw
from ordersync.land.redaction import PERSON_COLUMNS, redact_text
from ordersync.warehouse import Warehouse

#: Tables holding one row per customer key, deleted outright.
_KEYED = ("customer_profiles", "customer_rfm", "customer_clv", "customer_journey", "customer_events")
#: Rows redacted per statement.
_CHUNK = 500


@dataclass(frozen=True)
class Forgotten:
    """What `forget` did, by counts: nothing of the person is in it but the key."""

    tenant: str
    customer_key: str
    orders: int
    versions_redacted: int
    plan_versions_redacted: int
    quarantined_redacted: int
    identifiers_deleted: int
    forgotten_by: str
    forgotten_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def identifier_given(email: str | None, document: str | None, country: str | None) -> Identifier:
    """The identifier a person was named by (`--email` or `--document`), as identity normalises it."""
    if email is not None:
        found = email_identifier(email)
        if found is None:
            raise NotFoundError("that email is not one identity uses (masked or placeholder addresses are not)")
        return found
    found = document_identifier(document, None, country)
    if found is None:
        raise NotFoundError(f"that document is not a valid document for country {country or 'unknown'}")
    return found


def _in(column: str) -> str:
    return f"{column} IN (SELECT unnest(CAST(? AS TEXT[])))"


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def forget(wh: Warehouse, tenant_id: int, tenant_name: str, key: str, by: str, now: datetime) -> Forgotten:
    """Take the customer `key` out of the tenant's data (see the module); NotFoundError when the
    tenant has no such customer and never had."""
    mine = (tenant_id, key)
    rows = wh.query("SELECT order_id FROM cdp.customer_orders WHERE tenant_id = ? AND customer_key = ?", mine)
    order_ids = sorted(str(r[0]) for r in rows)
    already = wh.scalar("SELECT count(*) FROM cdp.customer_forgotten WHERE tenant_id = ? AND customer_key = ?", mine)
    if not order_ids and not already:
        raise NotFoundError(f"no customer {key!r} in this tenant; ordersync customers lists them")
    with wh.transaction():
        values = _raw_values(wh, tenant_id, order_ids)
        where, theirs = f"WHERE tenant_id = ? AND {_in('order_id')}", (tenant_id, order_ids)
        identifiers = int(wh.scalar(f"SELECT count(*) FROM cdp.customer_identifiers {where}", theirs) or 0)
        wh.execute(f"DELETE FROM cdp.customer_identifiers {where}", theirs)
        wh.execute("DELETE FROM cdp.customer_orders WHERE tenant_id = ? AND customer_key = ?", (tenant_id, key))
        for table in _KEYED:
            store.delete_rows(wh, tenant_id, table, [key])
        wh.execute(
            "DELETE FROM cdp.customer_links WHERE tenant_id = ? AND (surviving_key = ? OR other_keys LIKE ?)",
            (tenant_id, key, f"%{key}%"),
        )
        if order_ids:
            wh.execute(
                "INSERT INTO cdp.forgotten_orders (tenant_id, order_id, forgotten_at) "
                "SELECT ?, unnest(CAST(? AS TEXT[])), ? ON CONFLICT (tenant_id, order_id) DO NOTHING",
                (tenant_id, order_ids, now),
            )
        versions = _redact_landing(wh, tenant_id, order_ids, values)
        _clear_fct_orders(wh, tenant_id, order_ids)
        plan_versions = _redact_plan_versions(wh, tenant_id, order_ids, values)
        quarantined = _redact_quarantine(wh, tenant_id, order_ids, values)
        wh.execute(
            "INSERT INTO cdp.customer_forgotten (tenant_id, customer_key, forgotten_by, forgotten_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, customer_key) DO NOTHING",
            (tenant_id, key, by, now),
        )
    return Forgotten(tenant_name, key, len(order_ids), versions, plan_versions, quarantined, identifiers, by, now)


def _raw_values(wh: Warehouse, tenant_id: int, order_ids: Sequence[str]) -> set[str]:
    """Every identifier of the person as landed (any version, any spelling) and as normalised."""
    found: set[str] = set()
    if not order_ids:
        return found
    cols = ", ".join(c for c in PERSON_COLUMNS if c != "customer_document_type")
    for chunk in _chunks(order_ids):
        for row in wh.query(
            f"SELECT DISTINCT {cols} FROM cdp.orders_landing WHERE tenant_id = ? AND {_in('order_id')}",
            (tenant_id, list(chunk)),
        ):
            found.update(str(v) for v in row if v)
        for (value,) in wh.query(
            f"SELECT DISTINCT value FROM cdp.customer_identifiers WHERE tenant_id = ? AND {_in('order_id')}",
            (tenant_id, list(chunk)),
        ):
            found.add(str(value))
    return found


def _redact_landing(wh: Warehouse, tenant_id: int, order_ids: Sequence[str], values: set[str]) -> int:
    cleared = ", ".join(f"{c} = NULL" for c in PERSON_COLUMNS)
    done = 0
    for chunk in _chunks(order_ids):
        rows = wh.query(
            f"SELECT landing_id, payload FROM cdp.orders_landing WHERE tenant_id = ? AND {_in('order_id')}",
            (tenant_id, list(chunk)),
        )
        if not rows:
            continue
        wh.execute(
            f"UPDATE cdp.orders_landing AS l SET payload = u.payload, {cleared} "
            "FROM (SELECT unnest(CAST(? AS BIGINT[])) AS landing_id, unnest(CAST(? AS TEXT[])) AS payload) AS u "
            "WHERE l.landing_id = u.landing_id AND l.tenant_id = ?",
            ([int(r[0]) for r in rows], [redact_text(str(r[1]), values) for r in rows], tenant_id),
        )
        done += len(rows)
    return done


def _clear_fct_orders(wh: Warehouse, tenant_id: int, order_ids: Sequence[str]) -> None:
    if not order_ids or not wh.has_table("fct_orders"):
        return
    cleared = ", ".join(f"{c} = NULL" for c in PERSON_COLUMNS)
    sql = f"UPDATE cdp.fct_orders SET {cleared} WHERE tenant_id = ? AND {_in('order_id')}"
    wh.execute(sql, (tenant_id, list(order_ids)))


def _redact_plan_versions(wh: Warehouse, tenant_id: int, order_ids: Sequence[str], values: set[str]) -> int:
    done = 0
    for chunk in _chunks(order_ids):
        rows = wh.query(
            "SELECT plan_id, order_id, payload_hash, payload FROM cdp.plan_versions "
            f"WHERE tenant_id = ? AND {_in('order_id')}",
            (tenant_id, list(chunk)),
        )
        for plan_id, order_id, phash, payload in rows:
            wh.execute(
                "UPDATE cdp.plan_versions SET payload = ? "
                "WHERE plan_id = ? AND tenant_id = ? AND order_id = ? AND payload_hash = ?",
                (redact_text(str(payload), values), plan_id, tenant_id, order_id, phash),
            )
        done += len(rows)
    return done


def _redact_quarantine(wh: Warehouse, tenant_id: int, order_ids: Sequence[str], values: set[str]) -> int:
    """Quarantined records of the person's orders, or holding one of their identifiers (a record
    too broken to name its order may still name them)."""
    searched = sorted(v for v in values if len(v) >= 5)
    clauses, params = [_in("order_id")], list[Any]([list(order_ids)])
    for value in searched:
        clauses.append("lower(raw) LIKE ? ESCAPE '!'")
        params.append("%" + value.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")
    rows = wh.query(
        f"SELECT quarantine_id, raw, raw_encoding FROM cdp.quarantine WHERE tenant_id = ? AND ({' OR '.join(clauses)})",
        (tenant_id, *params),
    )
    for qid, raw, encoding in rows:
        data = decode_raw(str(raw), encoding)
        text, new_encoding = encode_raw(redact_text(data.decode("utf-8", errors="replace"), values))
        wh.execute(
            "UPDATE cdp.quarantine SET raw = ?, raw_encoding = ? WHERE quarantine_id = ? AND tenant_id = ?",
            (text, new_encoding, qid, tenant_id),
        )
    return len(rows)
