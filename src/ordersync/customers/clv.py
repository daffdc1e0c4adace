"""Customer lifetime value: the BG/NBD and Gamma-Gamma models' inputs, parameters and predictions.

BG/NBD (Fader, Hardie & Lee 2005) models how often a customer buys and when they silently leave;
Gamma-Gamma (Fader & Hardie, note 025) models how much they spend per purchase. Both take one row
per customer: x repeat purchase periods (a period is a day: same-day orders are one purchase; the
first purchase is never counted), t_x the age at the last purchase, T the age at the end of the
calibration period (both in the fit's time unit), and m the mean value of the repeat purchase days.
The fitting lives in `clv_fit.py`; everything here is vectorised over customers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import expit, hyp2f1

from ordersync.customers.clv_model import (
    CLV_MONTHS,
    MONTH_DAYS,
    PURCHASE_HORIZONS_DAYS,
    BgNbdParams,
    ClvModel,
    GammaGammaParams,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Summary(NamedTuple):
    """Per-customer BG/NBD and Gamma-Gamma inputs, aligned arrays (unpack as `x, t_x, T, m`)."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    m: FloatArray


def summarize(
    first_day: npt.ArrayLike,
    last_day: npt.ArrayLike,
    purchase_days: npt.ArrayLike,
    repeat_value: npt.ArrayLike,
    cal_end_day: int,
    unit_days: int,
) -> Summary:
    """The model inputs from per-customer aggregates.

    first_day, last_day: a customer's first and last purchase day (days since the epoch, the tenant's
    zone); purchase_days: how many distinct days they bought on; repeat_value: what they spent on the
    days after their first; cal_end_day: the calibration's last day; unit_days: 1 or 7 (`TimeUnit`).
    Raises ValueError for inputs no customer can have (a purchase after cal_end_day, none at all).
    """
    first = np.asarray(first_day, dtype=np.float64)
    last = np.asarray(last_day, dtype=np.float64)
    days = np.asarray(purchase_days, dtype=np.float64)
    value = np.asarray(repeat_value, dtype=np.float64)
    if not first.shape == last.shape == days.shape == value.shape:
        raise ValueError("summarize: the per-customer arrays differ in length")
    if unit_days <= 0:
        raise ValueError(f"summarize: unit_days must be positive, got {unit_days}")
    if first.size and (
        np.any(days < 1) or np.any(last < first) or np.any(last > cal_end_day) or np.any(last - first + 1 < days)
    ):
        raise ValueError("summarize: a customer's first/last day, purchase days or calibration end are inconsistent")
    x = days - 1.0
    m = np.divide(value, x, out=np.zeros_like(value), where=x > 0)
    return Summary(x=x, t_x=(last - first) / unit_days, T=(cal_end_day - first) / unit_days, m=m)


def summarize_transactions(
    customer: npt.ArrayLike, day: npt.ArrayLike, value: npt.ArrayLike, cal_end_day: int, unit_days: int
) -> tuple[IntArray, Summary]:
    """The customers (sorted ids) and their model inputs from raw purchases (customer id, day, value).

    Only purchases up to cal_end_day count, and a row of value <= 0 is no purchase (as in the valid
    purchase rule of the dbt macros, macros/revenue.sql). For tests and in-process fits; the warehouse
    computes the same aggregates in SQL.
    """
    cust = np.asarray(customer, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
    keep = (d <= cal_end_day) & (v > 0)
    cust, d, v = cust[keep], d[keep], v[keep]
    # one row per (customer, day): the day's value is the sum of its orders
    order = np.lexsort((d, cust))
    cust, d, v = cust[order], d[order], v[order]
    new_day = np.ones(cust.size, dtype=bool)
    new_day[1:] = (cust[1:] != cust[:-1]) | (d[1:] != d[:-1])
    day_idx = np.cumsum(new_day) - 1
    day_value = np.bincount(day_idx, weights=v) if v.size else np.zeros(0)
    cust, d = cust[new_day], d[new_day]
    ids, start, counts = np.unique(cust, return_index=True, return_counts=True)
    first = d[start]
    last = d[start + counts - 1]
    total = np.add.reduceat(day_value, start) if ids.size else np.zeros(0)
    repeat_value = total - day_value[start]
    return ids, summarize(first, last, counts, repeat_value, cal_end_day, unit_days)


class Scores(NamedTuple):
    """Per-customer predictions, aligned with the summary they were scored from."""

    p_alive: FloatArray
    purchases_30d: FloatArray
    purchases_90d: FloatArray
    purchases_365d: FloatArray
    #: expected spend per purchase (Gamma-Gamma's conditional mean, in the tenant's main currency)
    spend: FloatArray
    #: CLV over the next CLV_MONTHS months, discounted monthly
    clv: FloatArray


def _log_odds_gone(params: BgNbdParams, s: Summary) -> FloatArray:
    """log of the odds of having left: ln[(a/(b+x-1)) ((alpha+T)/(alpha+t_x))^(r+x)], -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = s.x > 0
    bx1 = np.where(repeat, b + s.x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(bx1) + (r + s.x) * (np.log(alpha + s.T) - np.log(alpha + s.t_x))
    return np.where(repeat, log_odds, -np.inf)


def p_alive(params: BgNbdParams, s: Summary) -> FloatArray:
    """P(still a customer at T): 1 for a one-time buyer (BG/NBD's dropout happens only after a repeat)."""
    return np.asarray(expit(-_log_odds_gone(params, s)), dtype=np.float64)


class _Forecast:
    """E[Y(t) | x, t_x, T] for a summary's customers, for any t (FHL 2005, eq. 10).

    E[Y(t)] = P(alive) * (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
    z = t/(alpha+T+t). The bracket depends on x and T alone, so it is computed once per distinct (x, T)
    (customers share them: x is a count, T a whole number of days). The power and 2F1 are taken in
    Euler's transformed form (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): equal, and free of the
    powers in r+x that overflow for frequent buyers.
    """

    def __init__(self, params: BgNbdParams, s: Summary, alive: FloatArray | None) -> None:
        self.params = params
        self.alive = p_alive(params, s) if alive is None else alive
        order = np.lexsort((s.T, s.x))
        x, T = s.x[order], s.T[order]
        new = np.ones(x.size, dtype=bool)
        new[1:] = (x[1:] != x[:-1]) | (T[1:] != T[:-1])
        self.x, self.T = x[new], T[new]
        self.where = np.empty(x.size, dtype=np.int64)
        self.where[order] = np.cumsum(new) - 1

    def __call__(self, t: float) -> FloatArray:
        if t <= 0:
            return np.zeros_like(self.alive)
        r, alpha, b = self.params.r, self.params.alpha, self.params.b
        a = self.params.a if abs(self.params.a - 1.0) > 1e-9 else 1.0 + 1e-9  # the formula's 0/0 at a = 1
        z = t / (alpha + self.T + t)
        c = a + b + self.x - 1.0
        tail = np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        return np.asarray((c / (a - 1.0) * (1.0 - tail))[self.where] * self.alive, dtype=np.float64)


def expected_purchases(params: BgNbdParams, s: Summary, t: float, alive: FloatArray | None = None) -> FloatArray:
    """E[repeat purchase periods in (T, T+t] | x, t_x, T], t in the fit's unit (`alive`: p_alive's)."""
    return _Forecast(params, s, alive)(t)


def expected_spend(params: GammaGammaParams, s: Summary) -> FloatArray:
    """E[spend per purchase | x, m]: a weighted mean of the population's and the customer's own mean
    (the population's for x = 0)."""
    p, q = params.p, params.q
    px = p * s.x
    w = (q - 1.0) / (px + q - 1.0)
    return np.asarray(w * params.mean_spend + (1.0 - w) * s.m, dtype=np.float64)


def discounted_clv(
    params: BgNbdParams,
    s: Summary,
    spend: FloatArray,
    unit_days: int,
    *,
    months: int = CLV_MONTHS,
    monthly_discount_rate: float = 0.01,
    alive: FloatArray | None = None,
) -> FloatArray:
    """Sum over months k of (E[Y(k mo)] - E[Y((k-1) mo)]) * spend / (1+d)^k, a month 30.4375 days."""
    return _discounted(_Forecast(params, s, alive), spend, unit_days, months, monthly_discount_rate)


def _discounted(forecast: _Forecast, spend: FloatArray, unit_days: int, months: int, rate: float) -> FloatArray:
    month = MONTH_DAYS / unit_days
    total = np.zeros_like(spend)
    previous = np.zeros_like(spend)
    for k in range(1, months + 1):
        current = forecast(k * month)
        total += (current - previous) / (1.0 + rate) ** k
        previous = current
    return np.asarray(total * spend, dtype=np.float64)


def score(model: ClvModel, s: Summary, *, monthly_discount_rate: float = 0.01) -> Scores:
    """Every prediction for the customers of `s` (summarised in the model's time unit)."""
    unit = model.time_unit.days
    forecast = _Forecast(model.bgnbd, s, None)
    d30, d90, d365 = (forecast(days / unit) for days in PURCHASE_HORIZONS_DAYS)
    spend = expected_spend(model.gamma_gamma, s)
    clv = _discounted(forecast, spend, unit, CLV_MONTHS, monthly_discount_rate)
    return Scores(
        p_alive=forecast.alive, purchases_30d=d30, purchases_90d=d90, purchases_365d=d365, spend=spend, clv=clv
    )
