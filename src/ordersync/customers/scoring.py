"""A customer's profile, RFM scores, CLV and journey stage from their history's aggregates, at a
scoring date, under the tenant's frozen parameters (breakpoints, thresholds, CLV model).

Pure: the same facts, date and parameters always give the same rows. The step computes the
customers a build touched with it, the sweep and the full recompute every customer: one function,
so the incremental answer and the full one cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from ordersync.customers.clv_model import ClvModel
from ordersync.customers.history import Facts
from ordersync.customers.journey import JourneyThresholds, PAliveGate, Purchases, Stage, stage_at
from ordersync.customers.rfm import Breakpoints, Segment
from ordersync.customers.rfm import score as rfm_score

_CENT = Decimal("0.01")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Profile:
    customer_key: str
    orders: int
    purchases: int
    purchase_days: int
    first_purchase_at: object
    last_purchase_at: object
    net_revenue: Decimal
    average_order_value: Decimal | None
    currency_code: str | None
    preferred_sales_channel: str | None
    last_status: str | None


@dataclass(frozen=True)
class Rfm:
    customer_key: str
    recency_days: int | None
    frequency: int
    monetary: Decimal
    r: int | None
    f: int | None
    m: int | None
    segment: Segment | None


@dataclass(frozen=True)
class Clv:
    customer_key: str
    p_alive: float
    expected_30d: float
    expected_90d: float
    expected_365d: float
    expected_spend: Decimal
    clv_12m: Decimal


@dataclass(frozen=True)
class Scored:
    """Every row of a set of customers at one scoring date."""

    profiles: list[Profile]
    rfm: list[Rfm]
    clv: list[Clv]
    stages: dict[str, Stage]


def _money(value: float | Decimal) -> Decimal:
    # a float through its shortest repr (0.1 is 0.10, not 0.1000000000000000055...); a Decimal as it is
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return exact.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _day(d: date) -> int:
    return (d - _EPOCH).days


def score(
    facts: Sequence[Facts],
    on: date,
    *,
    currency: str | None,
    breakpoints: Breakpoints | None,
    thresholds: JourneyThresholds,
    model: ClvModel | None,
    monthly_discount_rate: float,
    p_alive_gating: bool,
) -> Scored:
    """Rows for `facts` scored on `on`. A customer without a purchase has a profile and a stage
    (prospect) but no RFM scores or CLV; CLV needs a model (a tenant not yet ready has none) and a
    purchase in the main currency."""
    profiles = [
        Profile(
            f.customer_key,
            f.orders,
            f.purchases,
            f.purchase_days,
            f.first_purchase_at,
            f.last_purchase_at,
            _money(f.net_revenue),
            _money(f.net_revenue / f.money_days) if f.money_days else None,
            currency if f.money_days else None,
            f.preferred_sales_channel,
            f.last_status,
        )
        for f in facts
    ]
    buyers = [f for f in facts if f.last_purchase_day is not None]
    rfm: list[Rfm] = []
    if buyers and breakpoints is not None:
        recency = [(on - f.last_purchase_day).days for f in buyers if f.last_purchase_day is not None]
        scores = rfm_score(
            breakpoints, recency, [f.window_purchases for f in buyers], [float(f.window_revenue) for f in buyers]
        )
        segments = scores.segments()
        for i, f in enumerate(buyers):
            rfm.append(
                Rfm(
                    f.customer_key,
                    recency[i],
                    f.window_purchases,
                    _money(f.window_revenue),
                    int(scores.r[i]),
                    int(scores.f[i]),
                    int(scores.m[i]),
                    segments[i],
                )
            )
    clv: list[Clv] = []
    p_alive: dict[str, float] = {}
    payers = [f for f in facts if f.money_first_day is not None and f.money_last_day is not None]
    if model is not None and payers:
        from ordersync.customers.clv import score as clv_score  # numpy and scipy: only with a model
        from ordersync.customers.clv import summarize

        summary = summarize(
            [_day(f.money_first_day) for f in payers if f.money_first_day is not None],
            [_day(f.money_last_day) for f in payers if f.money_last_day is not None],
            [f.money_days for f in payers],
            [float(f.repeat_revenue) for f in payers],
            _day(on),
            model.time_unit.days,
        )
        predicted = clv_score(model, summary, monthly_discount_rate=monthly_discount_rate)
        for i, f in enumerate(payers):
            p_alive[f.customer_key] = float(predicted.p_alive[i])
            clv.append(
                Clv(
                    f.customer_key,
                    round(float(predicted.p_alive[i]), 6),
                    round(float(predicted.purchases_30d[i]), 6),
                    round(float(predicted.purchases_90d[i]), 6),
                    round(float(predicted.purchases_365d[i]), 6),
                    _money(float(predicted.spend[i])),
                    _money(float(predicted.clv[i])),
                )
            )
    gate = PAliveGate() if p_alive_gating else None
    stages = {
        f.customer_key: stage_at(
            Purchases(f.purchase_days, f.first_purchase_day, f.last_purchase_day, f.before_last_purchase_day),
            on,
            thresholds,
            p_alive=p_alive.get(f.customer_key),
            gate=gate,
        )
        for f in facts
    }
    return Scored(profiles, rfm, clv, stages)
