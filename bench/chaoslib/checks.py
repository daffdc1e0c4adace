"""The end state against the source's truth, read with plain SQL (not through ordersync).

Exact checks, per tenant: every order the source holds (in the synced range) is in fct_orders with
the source's current status, value and lastChange; fct_orders holds one row per order and nothing
the source does not hold; cdp.orders_landing never stores one (tenant, order_id, payload_hash) twice.
A "lost" version is a source order missing from fct_orders or built from an older version; a
"doubled" one is an extra copy of a landed version or of an order's fct_orders row.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from chaoslib.warehouses import Reader

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_time(text: str) -> datetime:
    """A VTEX timestamp as an aware UTC datetime, cut to the millisecond (the list and get-order may
    print the same instant with different digits; versions of one order are seconds apart)."""
    m = _ISO.match(text.strip())
    if m is None:
        raise ValueError(f"not a timestamp: {text!r}")
    day, clock, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0")) // 1000 * 1000
    base = datetime.fromisoformat(f"{day}T{clock}").replace(microsecond=micro)
    if tz in (None, "Z"):
        return base.replace(tzinfo=UTC)
    assert tz is not None
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return base.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)


def _ms(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


Row = tuple[str | None, int, datetime]  # status, value in cents, lastChange


def truth_rows(orders: Iterable[dict[str, Any]], since: datetime | None = None) -> dict[str, Row]:
    """The source's current orders (created at or after `since`, when given), keyed by order id."""
    out: dict[str, Row] = {}
    for o in orders:
        if since is not None and parse_time(o["creationDate"]) < since:
            continue
        out[o["orderId"]] = (o["status"], int(o["value"]), parse_time(o["lastChange"]))
    return out


@dataclass
class EndState:
    checked: int = 0
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)

    def __add__(self, other: EndState) -> EndState:
        return EndState(
            self.checked + other.checked,
            self.lost + other.lost,
            self.doubled + other.doubled,
            self.problems + other.problems,
        )


def tenant_id(reader: Reader, name: str) -> int | None:
    value = reader.scalar("SELECT tenant_id FROM cdp.tenants WHERE tenant_name = ?", (name,))
    return None if value is None else int(value)


def doubled_versions(reader: Reader, tid: int | None = None) -> int:
    """Extra copies of (tenant, order_id, payload_hash) in the landing table."""
    where = "" if tid is None else "WHERE tenant_id = ?"
    value = reader.scalar(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM cdp.orders_landing "
        f"{where} GROUP BY tenant_id, order_id, payload_hash) AS copies",
        () if tid is None else (tid,),
    )
    return int(value or 0)


def check_tenant(
    reader: Reader,
    name: str,
    truth: dict[str, Row],
    *,
    absent: Collection[str] = (),
    either: Collection[str] = (),
    extra_ok: Collection[str] = (),
) -> EndState:
    """Compare one tenant with its truth. `absent`: orders that must NOT be built (poison records,
    quarantined); `either`: orders that may be built or not (a record whose fate the trial accepts
    both ways), but if built, they must match the truth; `extra_ok`: orders not in the truth that may
    be built (records the trial itself landed, checked on their own)."""
    state = EndState()
    tid = tenant_id(reader, name)
    if tid is None:
        state.problems.append(f"tenant {name!r} is not in cdp.tenants")
        state.lost = len(truth)
        return state
    rows = reader.query(
        "SELECT order_id, status, total_value, event_time FROM cdp.fct_orders WHERE tenant_id = ?", (tid,)
    )
    built: dict[str, Row] = {}
    fct_copies = 0
    for order_id, status, value, event_time in rows:
        if order_id in built:
            fct_copies += 1
        built[order_id] = (status, int(Decimal(value) * 100), _ms(event_time))
    landing_copies = doubled_versions(reader, tid)
    state.doubled = fct_copies + landing_copies
    if fct_copies:
        state.problems.append(f"{name}: {fct_copies} orders have more than one row in fct_orders")
    if landing_copies:
        state.problems.append(f"{name}: {landing_copies} landed versions are stored more than once")
    missing: list[str] = []
    stale: list[str] = []
    for order_id, want in truth.items():
        if order_id in absent:
            continue
        got = built.get(order_id)
        if got is None:
            if order_id not in either:
                missing.append(order_id)
            continue
        state.checked += 1
        want = (want[0], want[1], _ms(want[2]))
        if got != want:
            stale.append(
                f"{order_id} built {got[0]}/{got[1]}/{got[2].isoformat()} but the source has "
                f"{want[0]}/{want[1]}/{want[2].isoformat()}"
            )
    state.checked += len(missing)
    state.lost = len(missing) + len(stale)
    if missing:
        state.problems.append(f"{name}: {len(missing)} source orders are not in fct_orders, e.g. {missing[:3]}")
    if stale:
        state.problems.append(f"{name}: {len(stale)} orders are built from an older version, e.g. {stale[:2]}")
    present = sorted(o for o in absent if o in built)
    if present:
        state.problems.append(f"{name}: orders that must not be built are in fct_orders: {present[:5]}")
    extra = sorted(set(built) - set(truth) - set(extra_ok))
    if extra:
        state.problems.append(f"{name}: {len(extra)} orders in fct_orders the source does not hold, e.g. {extra[:3]}")
    return state


def quarantined(reader: Reader, name: str) -> dict[str, list[str]]:
    """Order id (or '' when unknown) -> reasons, for the tenant's quarantined records."""
    out: dict[str, list[str]] = {}
    for order_id, reason, _ in quarantine_rows(reader, name):
        out.setdefault(order_id or "", []).append(reason)
    return out


def quarantine_rows(reader: Reader, name: str) -> list[tuple[str | None, str, bytes]]:
    """(order id, reason, raw bytes) of each of the tenant's quarantined records; raw records kept
    base64-encoded (not UTF-8, or holding NUL) are decoded."""
    tid = tenant_id(reader, name)
    columns = {
        r[0]
        for r in reader.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'cdp' AND table_name = 'quarantine'"
        )
    }
    encoding = "raw_encoding" if "raw_encoding" in columns else "NULL"
    out: list[tuple[str | None, str, bytes]] = []
    for order_id, reason, raw, enc in reader.query(
        f"SELECT order_id, reason, raw, {encoding} FROM cdp.quarantine WHERE tenant_id = ?", (tid,)
    ):
        data = base64.b64decode(raw) if enc == "base64" else str(raw).encode("utf-8", errors="replace")
        out.append((order_id, str(reason), data))
    return out


def landed_ids(reader: Reader, name: str) -> set[str]:
    tid = tenant_id(reader, name)
    return {r[0] for r in reader.query("SELECT DISTINCT order_id FROM cdp.orders_landing WHERE tenant_id = ?", (tid,))}


EventKey = tuple[str, datetime, str | None]  # order id, event time (UTC, to the millisecond), status


def event_key(order_id: str, event_time: datetime, status: str | None) -> EventKey:
    return (order_id, _ms(event_time), status)


def landed_events(reader: Reader, name: str) -> Counter[EventKey]:
    """How many rows cdp.orders_landing holds per (order id, event time, status) of the tenant."""
    tid = tenant_id(reader, name)
    rows = reader.query("SELECT order_id, event_time, status FROM cdp.orders_landing WHERE tenant_id = ?", (tid,))
    return Counter(event_key(r[0], r[1], r[2]) for r in rows)


def event_truth_rows(truth: dict[str, dict[str, Any]]) -> dict[str, Row]:
    """Pushed order events' final snapshots (total_value in currency units), as check_tenant reads them."""
    return {
        order_id: (o["status"], int(Decimal(str(o["total_value"])) * 100), parse_time(o["event_time"]))
        for order_id, o in truth.items()
    }
