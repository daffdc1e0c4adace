"""The customers' tables as the step reads and writes them: the tenant's state, its frozen
parameters (RFM breakpoints with journey thresholds, CLV models), and the scored rows, written only
where they changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ordersync.customers.clv_model import ClvModel
from ordersync.customers.journey import JourneyThresholds, Stage
from ordersync.customers.rfm import Breakpoints, Segment, Tracked
from ordersync.customers.scoring import Clv, Profile, Rfm
from ordersync.warehouse import Warehouse


@dataclass(frozen=True)
class State:
    tenant_id: int
    caught_up_to: datetime | None
    scoring_date: date | None
    last_sweep_date: date | None
    last_full_at: datetime | None
    initialised_at: datetime | None


def state(wh: Warehouse, tenant_id: int) -> State:
    row = wh.query_one(
        "SELECT caught_up_to, scoring_date, last_sweep_date, last_full_at, initialised_at "
        "FROM cdp.customer_state WHERE tenant_id = ?",
        (tenant_id,),
    )
    return State(tenant_id, *row) if row else State(tenant_id, None, None, None, None, None)


def save_state(wh: Warehouse, s: State) -> None:
    wh.execute(
        "INSERT INTO cdp.customer_state (tenant_id, caught_up_to, scoring_date, last_sweep_date, last_full_at, "
        "initialised_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET "
        "caught_up_to = excluded.caught_up_to, scoring_date = excluded.scoring_date, "
        "last_sweep_date = excluded.last_sweep_date, last_full_at = excluded.last_full_at, "
        "initialised_at = excluded.initialised_at",
        (s.tenant_id, s.caught_up_to, s.scoring_date, s.last_sweep_date, s.last_full_at, s.initialised_at),
    )


# -- frozen parameters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frozen:
    """A tenant's RFM breakpoints and journey thresholds for one period."""

    breakpoints: Breakpoints
    thresholds: JourneyThresholds

    @property
    def version(self) -> str:
        return self.breakpoints.version + "." + self.thresholds.version


def frozen_for(wh: Warehouse, tenant_id: int, period_start: date) -> Frozen | None:
    row = wh.query_one(
        "SELECT edges, thresholds FROM cdp.rfm_breakpoints WHERE tenant_id = ? AND period_start = ? "
        "ORDER BY created_at DESC LIMIT 1",
        (tenant_id, period_start),
    )
    if row is None:
        return None
    return Frozen(Breakpoints.from_json(row[0]), JourneyThresholds.from_json(row[1]))


def save_frozen(wh: Warehouse, tenant_id: int, frozen: Frozen, now: datetime) -> None:
    wh.execute(
        "INSERT INTO cdp.rfm_breakpoints (tenant_id, version, period_start, method, edges, thresholds, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, version) DO NOTHING",
        (
            tenant_id,
            frozen.version,
            frozen.breakpoints.period_start,
            frozen.breakpoints.method.value,
            frozen.breakpoints.to_json(),
            frozen.thresholds.to_json(),
            now,
        ),
    )


@dataclass(frozen=True)
class StoredModel:
    version: str
    fit_date: date
    ready: bool
    reason: str | None
    model: ClvModel | None
    report: dict[str, Any]


def latest_model(wh: Warehouse, tenant_id: int) -> StoredModel | None:
    row = wh.query_one(
        "SELECT version, fit_date, ready, reason, params, report FROM cdp.clv_models WHERE tenant_id = ? "
        "ORDER BY fitted_at DESC, version LIMIT 1",
        (tenant_id,),
    )
    if row is None:
        return None
    params = json.loads(row[4])
    model = ClvModel.from_dict(params) if params else None
    return StoredModel(str(row[0]), row[1], bool(row[2]), row[3], model, json.loads(row[5]))


def save_model(wh: Warehouse, tenant_id: int, m: StoredModel, time_unit: str, now: datetime) -> None:
    wh.execute(
        "INSERT INTO cdp.clv_models (tenant_id, version, fit_date, time_unit, ready, reason, params, report, "
        "fitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, version) DO NOTHING",
        (
            tenant_id,
            m.version,
            m.fit_date,
            time_unit,
            m.ready,
            m.reason,
            json.dumps(m.model.as_dict() if m.model else {}, sort_keys=True),
            json.dumps(m.report, sort_keys=True, default=str),
            now,
        ),
    )


# -- scored rows -----------------------------------------------------------------------------------


def _keyed(
    wh: Warehouse, table: str, columns: str, tenant_id: int, keys: Sequence[str] | None
) -> dict[str, tuple[Any, ...]]:
    sql = f"SELECT customer_key, {columns} FROM cdp.{table} WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if keys is not None:
        sql += " AND customer_key IN (SELECT unnest(CAST(? AS TEXT[])))"
        params.append(list(keys))
    return {str(r[0]): tuple(r[1:]) for r in wh.query(sql, params)}


PROFILE_COLUMNS = (
    "orders, purchases, purchase_days, first_purchase_at, last_purchase_at, net_revenue, average_order_value, "
    "currency_code, preferred_sales_channel, last_status"
)
RFM_COLUMNS = "recency_days, frequency, monetary, r_score, f_score, m_score, segment"
CLV_COLUMNS = "p_alive, expected_30d, expected_90d, expected_365d, expected_spend, clv_12m"


def profiles(wh: Warehouse, tenant_id: int, keys: Sequence[str] | None) -> dict[str, tuple[Any, ...]]:
    return _keyed(wh, "customer_profiles", PROFILE_COLUMNS, tenant_id, keys)


def rfm_rows(wh: Warehouse, tenant_id: int, keys: Sequence[str] | None) -> dict[str, tuple[Any, ...]]:
    return _keyed(
        wh, "customer_rfm", RFM_COLUMNS + ", previous_segment, segment_changed_at, breakpoints_version", tenant_id, keys
    )


def clv_rows(wh: Warehouse, tenant_id: int, keys: Sequence[str] | None) -> dict[str, tuple[Any, ...]]:
    return _keyed(wh, "customer_clv", CLV_COLUMNS + ", model_version", tenant_id, keys)


def journey_rows(wh: Warehouse, tenant_id: int, keys: Sequence[str] | None) -> dict[str, Tracked[Stage]]:
    rows = _keyed(wh, "customer_journey", "stage, previous_stage, stage_changed_at", tenant_id, keys)
    return {k: Tracked(Stage(r[0]), Stage(r[1]) if r[1] else None, r[2]) for k, r in rows.items()}


def profile_values(p: Profile) -> tuple[Any, ...]:
    return (
        p.orders,
        p.purchases,
        p.purchase_days,
        p.first_purchase_at,
        p.last_purchase_at,
        p.net_revenue,
        p.average_order_value,
        p.currency_code,
        p.preferred_sales_channel,
        p.last_status,
    )


def rfm_values(r: Rfm) -> tuple[Any, ...]:
    return (r.recency_days, r.frequency, r.monetary, r.r, r.f, r.m, r.segment.value if r.segment else None)


def clv_values(c: Clv) -> tuple[Any, ...]:
    return (c.p_alive, c.expected_30d, c.expected_90d, c.expected_365d, c.expected_spend, c.clv_12m)


def same(stored: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Equal row values, money compared as decimals and floats to the stored precision."""
    if stored == new:  # most rows of a recompute: exactly equal, compared in C
        return True
    if len(stored) != len(new):
        return False
    for a, b in zip(stored, new, strict=True):
        if isinstance(a, float) or isinstance(b, float):
            if a is None or b is None or abs(float(a) - float(b)) > 1e-6:
                return False
        elif isinstance(a, Decimal) or isinstance(b, Decimal):
            if a is None or b is None or Decimal(a) != Decimal(b):
                return False
        elif a != b:
            return False
    return True


def delete_rows(wh: Warehouse, tenant_id: int, table: str, keys: Sequence[str]) -> None:
    """Delete customers' rows of `table`."""
    if keys:
        wh.execute(
            f"DELETE FROM cdp.{table} WHERE tenant_id = ? AND customer_key IN (SELECT unnest(CAST(? AS TEXT[])))",
            (tenant_id, list(keys)),
        )


def delete_keys(wh: Warehouse, tenant_id: int, keys: Sequence[str]) -> None:
    """Drop customers that no longer exist (absorbed by a merge, every order gone)."""
    for table in ("customer_profiles", "customer_rfm", "customer_clv", "customer_journey"):
        delete_rows(wh, tenant_id, table, keys)


def replace(
    wh: Warehouse, tenant_id: int, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> None:
    """Replace customers' rows of `table`: `columns` are (name, SQL type) after tenant_id, the first
    being customer_key; one DELETE and one INSERT of arrays, however many rows."""
    if not rows:
        return
    names = ", ".join(n for n, _ in columns)
    arrays = ", ".join(f"unnest(CAST(? AS {t}[]))" for _, t in columns)
    delete_rows(wh, tenant_id, table, [r[0] for r in rows])
    wh.execute(
        f"INSERT INTO cdp.{table} (tenant_id, {names}) SELECT ?, {arrays}",
        (tenant_id, *[[r[i] for r in rows] for i in range(len(columns))]),
    )


def segment_state(stored: tuple[Any, ...] | None) -> Tracked[Segment] | None:
    """A stored RFM row's segment as tracked state (None: no row, or no segment yet)."""
    if stored is None or stored[6] is None:
        return None
    return Tracked(Segment(stored[6]), Segment(stored[7]) if stored[7] else None, stored[8])
