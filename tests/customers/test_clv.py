"""CLV mathematics: the summary, the readiness and penalizer rules, parameter recovery from the models'
own generative process, and the predictions' properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from ordersync.customers.clv import (
    Summary,
    discounted_clv,
    expected_purchases,
    expected_spend,
    p_alive,
    score,
    summarize,
    summarize_transactions,
)
from ordersync.customers.clv_fit import fit
from ordersync.customers.clv_model import (
    BgNbdParams,
    ClvModel,
    FitReport,
    GammaGammaParams,
    TimeUnit,
    penalizer_for,
    readiness,
)
from ordersync.errors import RefusedError
from support.properties import examples

# CDNOW's published parameters (weeks): a realistic model for the properties
BG = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


# -- the summary ---------------------------------------------------------------------------------


def test_summarize_counts_repeat_days_and_rescales_time() -> None:
    x, t_x, T, m = summarize([100, 100, 93], [100, 114, 93], [1, 3, 1], [0.0, 50.0, 0.0], 121, 7)
    assert x.tolist() == [0.0, 2.0, 0.0]
    assert t_x.tolist() == [0.0, 2.0, 0.0]
    assert T.tolist() == [3.0, 3.0, 4.0]
    assert m.tolist() == [0.0, 25.0, 0.0]


def test_summarize_transactions_makes_a_day_one_purchase_and_leaves_the_first_out_of_m() -> None:
    # customer 7: day 10 (two orders), day 12 (two orders), day 30 after the calibration's end
    # customer 3: a zero-value order on day 11 is no purchase; a purchase on day 15
    ids, (x, t_x, T, m) = summarize_transactions(
        [7, 7, 7, 7, 7, 3, 3], [10, 10, 12, 12, 30, 11, 15], [5.0, 6.0, 20.0, 10.0, 99.0, 0.0, 8.0], 20, 1
    )
    assert ids.tolist() == [3, 7]
    assert x.tolist() == [0.0, 1.0]
    assert t_x.tolist() == [0.0, 2.0]
    assert T.tolist() == [5.0, 10.0]
    assert m.tolist() == [0.0, 30.0]


def test_summarize_refuses_impossible_customers() -> None:
    with pytest.raises(ValueError):
        summarize([10], [9], [1], [0.0], 20, 1)  # last before first
    with pytest.raises(ValueError):
        summarize([10], [12], [4], [3.0], 20, 1)  # four purchase days in three days
    with pytest.raises(ValueError):
        summarize([10], [25], [2], [3.0], 20, 1)  # a purchase after the calibration's end


# -- rules ---------------------------------------------------------------------------------------


def test_readiness_says_what_is_missing() -> None:
    assert readiness(180, 100) is None
    assert readiness(97, 500) == "needs 180 days of history, has 97"
    assert readiness(400, 12) == "needs 100 repeat buyers, has 12"
    assert readiness(97, 12) == "needs 180 days of history, has 97; needs 100 repeat buyers, has 12"
    assert readiness(30, 5, min_history_days=30, min_repeat_buyers=5) is None


def test_penalizer_is_off_for_large_tenants_and_small_below() -> None:
    assert penalizer_for(2_000) == 0.0
    assert penalizer_for(30_000) == 0.0
    assert 0.0 < penalizer_for(1_999) <= 1e-3
    assert penalizer_for(150, unpenalized_from=100) == 0.0


def test_a_small_tenants_penalizer_stops_the_dropout_parameters_running_off() -> None:
    # 200 customers over 240 days whose dropout the data hardly show: unpenalised, b runs to the hundreds
    truth = BgNbdParams(r=2.0, alpha=20.0, a=1.0, b=20.0)
    customer, day, value = _oracle_population(np.random.default_rng(2), 200, truth, GG, 240, 1)
    _, s = summarize_transactions(customer, day, value, 240, 1)
    assert fit(s, TimeUnit.DAY, penalizer=0.0).bgnbd.b > 100
    model = fit(s, TimeUnit.DAY)
    assert model.report.penalizer == penalizer_for(200) > 0.0
    assert model.report.converged
    assert model.bgnbd.b < 2 * truth.b
    assert model.bgnbd.r == pytest.approx(truth.r, rel=0.25)


def test_fit_refuses_data_without_repeat_spend() -> None:
    s = summarize([0, 5], [0, 5], [1, 1], [0.0, 0.0], 100, 1)
    with pytest.raises(RefusedError):
        fit(s, TimeUnit.DAY)


# -- recovery from the generative process --------------------------------------------------------


def _oracle_population(
    rng: np.random.Generator, n: int, bg: BgNbdParams, gg: GammaGammaParams, cal_end_day: int, unit_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ORACLE SAMPLER (test only): purchases (customer, day, value) drawn from BG/NBD + Gamma-Gamma.

    Each customer arrives with a first purchase on a day of the first half of the history, buys at a
    Poisson rate ~ Gamma(r, alpha) per unit, and leaves after each repeat purchase with probability
    ~ Beta(a, b); every purchase day is worth Gamma(p, nu), nu ~ Gamma(q, gamma) per customer.
    """
    first = rng.integers(0, cal_end_day // 2, n)
    age = (cal_end_day - first) / unit_days
    rate = rng.gamma(bg.r, 1.0 / bg.alpha, n)
    drop = rng.beta(bg.a, bg.b, n)
    customers, days = [np.arange(n)], [first]
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0 / rate[active])
        active = active[t[active] <= age[active]]
        customers.append(active)
        days.append(first[active] + np.floor(t[active] * unit_days).astype(np.int64))
        active = active[rng.random(active.size) >= drop[active]]
    customer = np.concatenate(customers)
    day = np.concatenate(days)
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    value = rng.gamma(gg.p, 1.0 / nu[customer])
    return customer, day, value


def test_parameters_are_recovered_from_their_own_process() -> None:
    truth_bg = BgNbdParams(r=0.9, alpha=10.0, a=0.6, b=4.0)
    truth_gg = GammaGammaParams(p=4.0, q=3.0, gamma=60.0)
    cal_end = 730
    # at 30,000 customers the estimates of b and gamma scatter by about 5% from sample to sample (and
    # alpha sits ~3% high, same-day purchases merging): 10% is two standard errors, so the seed is fixed
    customer, day, value = _oracle_population(np.random.default_rng(7), 30_000, truth_bg, truth_gg, cal_end, 7)
    _, s = summarize_transactions(customer, day, value, cal_end, TimeUnit.WEEK.days)
    model = fit(s, TimeUnit.WEEK)
    assert model.report.converged
    assert model.report.penalizer == 0.0
    for name in ("r", "alpha", "a", "b"):
        assert getattr(model.bgnbd, name) == pytest.approx(getattr(truth_bg, name), rel=0.10), name
    for name in ("p", "q", "gamma"):
        assert getattr(model.gamma_gamma, name) == pytest.approx(getattr(truth_gg, name), rel=0.10), name
    # independent by construction
    assert model.report.frequency_monetary_corr == pytest.approx(0.0, abs=0.05)


def test_a_model_survives_json() -> None:
    report = FitReport(
        customers=10,
        repeat_buyers=4,
        history_days=200,
        penalizer=0.001,
        bgnbd_log_likelihood=-10.5,
        gamma_gamma_log_likelihood=-3.25,
        converged=True,
        frequency_monetary_corr=None,
    )
    model = ClvModel(bgnbd=BG, gamma_gamma=GG, time_unit=TimeUnit.WEEK, report=report)
    assert ClvModel.from_dict(json.loads(json.dumps(model.as_dict()))) == model


# -- the predictions' properties -----------------------------------------------------------------

# a customer: x, the share of T at the last purchase, T, m
_customer = st.tuples(
    st.integers(0, 60).map(float),
    st.floats(0.0, 1.0),
    st.floats(0.0, 200.0),
    st.floats(0.01, 1000.0),
)


def _one(x: float, share: float, T: float, m: float) -> Summary:
    t_x = share * T if x > 0 else 0.0
    return Summary(np.array([x]), np.array([t_x]), np.array([T]), np.array([m if x > 0 else 0.0]))


@settings(max_examples=examples(100))
@given(_customer)
def test_p_alive_is_a_probability_and_one_for_one_time_buyers(c: tuple[float, float, float, float]) -> None:
    s = _one(*c)
    alive = float(p_alive(BG, s)[0])
    assert 0.0 <= alive <= 1.0
    if s.x[0] == 0:
        assert alive == 1.0


@settings(max_examples=examples(100))
@given(_customer, st.floats(0.1, 100.0), st.floats(0.1, 100.0))
def test_expected_purchases_grow_with_the_horizon(c: tuple[float, float, float, float], t1: float, t2: float) -> None:
    s = _one(*c)
    lo, hi = sorted((t1, t2))
    e_lo, e_hi = float(expected_purchases(BG, s, lo)[0]), float(expected_purchases(BG, s, hi)[0])
    assert np.isfinite(e_hi)
    assert 0.0 <= e_lo <= e_hi * (1 + 1e-9) + 1e-12


@settings(max_examples=examples(100))
@given(st.integers(0, 15), st.floats(0.0, 1.0), st.floats(0.5, 80.0), st.floats(0.5, 60.0))
def test_the_transformed_hypergeometric_equals_the_textbook_form(x: int, share: float, T: float, t: float) -> None:
    s = _one(float(x), share, T, 1.0)
    r, alpha, a, b = BG.r, BG.alpha, BG.a, BG.b
    z = t / (alpha + T + t)
    tail = ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    textbook = (a + b + x - 1) / (a - 1) * (1 - tail) * float(p_alive(BG, s)[0])
    assert float(expected_purchases(BG, s, t)[0]) == pytest.approx(textbook, rel=1e-7, abs=1e-10)


@settings(max_examples=examples(100))
@given(_customer, st.floats(1.01, 2.0))
def test_clv_grows_with_spend(c: tuple[float, float, float, float], factor: float) -> None:
    s = _one(*c)
    richer = s._replace(m=s.m * factor)
    spend, spend_richer = expected_spend(GG, s), expected_spend(GG, richer)
    clv = float(discounted_clv(BG, s, spend, 7)[0])
    clv_richer = float(discounted_clv(BG, richer, spend_richer, 7)[0])
    assert clv >= 0.0
    if s.x[0] == 0:
        assert clv_richer == clv  # a one-time buyer has no m of their own: the population's mean
    elif clv > 0.0:  # (0 when P(alive) underflows: long silent after many purchases)
        assert clv_richer > clv


def test_a_new_customer_is_expected_to_spend_the_population_mean() -> None:
    s = _one(0.0, 0.0, 10.0, 0.0)
    assert float(expected_spend(GG, s)[0]) == pytest.approx(GG.p * GG.gamma / (GG.q - 1))


def test_discounting_lowers_clv_and_the_unit_does_not_change_it() -> None:
    weeks = summarize([0, 0, 70], [210, 35, 70], [8, 2, 1], [700.0, 30.0, 0.0], 350, 7)
    days = summarize([0, 0, 70], [210, 35, 70], [8, 2, 1], [700.0, 30.0, 0.0], 350, 1)
    bg_days = BgNbdParams(r=BG.r, alpha=BG.alpha * 7, a=BG.a, b=BG.b)  # the same population, in days
    by_week = score(ClvModel(BG, GG, TimeUnit.WEEK, _report()), weeks)
    by_day = score(ClvModel(bg_days, GG, TimeUnit.DAY, _report()), days)
    for a_col, b_col in zip(by_week, by_day, strict=True):
        np.testing.assert_allclose(a_col, b_col, rtol=1e-9)
    undiscounted = score(ClvModel(BG, GG, TimeUnit.WEEK, _report()), weeks, monthly_discount_rate=0.0)
    assert np.all(by_week.clv < undiscounted.clv)
    np.testing.assert_allclose(undiscounted.clv, by_week.spend * expected_purchases(BG, weeks, 12 * 30.4375 / 7))


def _report() -> FitReport:
    return FitReport(0, 0, 0, 0.0, 0.0, 0.0, True, None)


def test_no_customers_score_to_no_rows() -> None:
    s = summarize([], [], [], [], 100, 7)
    assert all(column.shape == (0,) for column in score(ClvModel(BG, GG, TimeUnit.WEEK, _report()), s))
