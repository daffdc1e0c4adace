"""CDNOW (the 1/10 sample of the cohort of Q1 1997, as shipped in lifetimes 0.11.3, read as a file): the
fits reproduce the published BG/NBD and Gamma-Gamma estimates, and the BG/NBD forecast of the next 39
weeks' repeat purchase days comes near what the customers did.

Install the data with `pip install --no-deps lifetimes==0.11.3` (the package itself is never imported).
"""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from ordersync.customers.clv import Summary, expected_purchases, score, summarize_transactions
from ordersync.customers.clv_fit import bgnbd_log_likelihood, fit
from ordersync.customers.clv_model import BgNbdParams, ClvModel, TimeUnit, penalizer_for

CAL_END = date(1997, 9, 30)
HOLDOUT_END = CAL_END + timedelta(weeks=39)
EPOCH = date(1970, 1, 1)


def _cdnow_path() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, (
        "the CDNOW data ships with lifetimes: pip install --no-deps lifetimes==0.11.3"
    )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_sample.txt"


def _day(d: date) -> int:
    return (d - EPOCH).days


@pytest.fixture(scope="module")
def transactions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample_id, day, dollar value) of every row of the file."""
    raw = np.loadtxt(_cdnow_path(), dtype=str)
    assert raw.shape == (6919, 5)
    customer = raw[:, 1].astype(np.int64)
    days = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in raw[:, 2]], dtype="datetime64[D]").astype(np.int64)
    return customer, days, raw[:, 4].astype(np.float64)


@pytest.fixture(scope="module")
def calibration(transactions: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, Summary]:
    customer, day, value = transactions
    return summarize_transactions(customer, day, value, _day(CAL_END), TimeUnit.WEEK.days)


@pytest.fixture(scope="module")
def model(calibration: tuple[np.ndarray, Summary]) -> ClvModel:
    return fit(calibration[1], TimeUnit.WEEK, penalizer=0.0)


def test_the_calibration_summary_is_the_published_one(calibration: tuple[np.ndarray, Summary]) -> None:
    ids, s = calibration
    assert ids.size == 2357 - 8  # 8 customers' one calibration row is worth 0: no purchase
    assert int(np.count_nonzero(s.x > 0)) == 946
    assert float(s.T.max()) == pytest.approx(38.86, abs=0.01)


def test_cdnow_is_fitted_unpenalised_by_the_rule(calibration: tuple[np.ndarray, Summary]) -> None:
    assert penalizer_for(calibration[0].size) == 0.0


def test_bgnbd_reproduces_the_published_estimates(model: ClvModel) -> None:
    bg = model.bgnbd
    assert bg.r == pytest.approx(0.243, rel=0.01)
    assert bg.alpha == pytest.approx(4.414, rel=0.01)
    assert bg.a == pytest.approx(0.793, rel=0.01)
    assert bg.b == pytest.approx(2.426, rel=0.01)
    assert model.report.converged


def test_the_zero_value_rows_are_no_purchase_and_move_r_half_a_percent(
    transactions: tuple[np.ndarray, np.ndarray, np.ndarray], model: ClvModel
) -> None:
    """Published fits took CDNOW's 8 zero-value rows for purchases; counted so, the likelihood at the
    published optimum is the published -9582.43 and the fit lands on it; taken for no purchase (as
    here), they move r by half a percent (0.4% from the rounded 0.243)."""
    customer, day, value = transactions
    _, as_published = summarize_transactions(customer, day, np.where(value > 0, value, 0.01), _day(CAL_END), 7)
    published = BgNbdParams(r=0.2426, alpha=4.4136, a=0.7930, b=2.4262)
    assert bgnbd_log_likelihood(published, as_published) == pytest.approx(-9582.43, abs=0.05)
    refit = fit(as_published, TimeUnit.WEEK, penalizer=0.0).bgnbd
    for name in ("r", "alpha", "a", "b"):
        assert getattr(refit, name) == pytest.approx(getattr(published, name), rel=1e-3), name
    assert 0.003 < model.bgnbd.r / refit.r - 1.0 < 0.007


def test_gamma_gamma_reproduces_the_published_estimates(model: ClvModel) -> None:
    gg = model.gamma_gamma
    assert gg.p == pytest.approx(6.25, rel=0.01)
    assert gg.q == pytest.approx(3.74, rel=0.01)
    assert gg.gamma == pytest.approx(15.44, rel=0.01)


def test_the_report_says_what_the_fit_saw(model: ClvModel) -> None:
    report = model.report
    assert (report.customers, report.repeat_buyers, report.penalizer) == (2349, 946, 0.0)
    assert report.history_days == _day(CAL_END) - _day(date(1997, 1, 1))
    assert report.frequency_monetary_corr == pytest.approx(0.11, abs=0.01)


def test_the_39_week_forecast_is_near_the_holdout(
    transactions: tuple[np.ndarray, np.ndarray, np.ndarray], calibration: tuple[np.ndarray, Summary], model: ClvModel
) -> None:
    customer, day, value = transactions
    holdout = (day > _day(CAL_END)) & (day <= _day(HOLDOUT_END)) & (value > 0)
    actual = np.unique(np.stack([customer[holdout], day[holdout]]), axis=1).shape[1]
    assert actual == 1882
    predicted = float(expected_purchases(model.bgnbd, calibration[1], 39.0).sum())
    assert predicted == pytest.approx(actual, rel=0.15)


def test_every_customer_is_scored(calibration: tuple[np.ndarray, Summary], model: ClvModel) -> None:
    scores = score(model, calibration[1])
    for column in scores:
        assert np.all(np.isfinite(column))
    assert np.all(scores.p_alive[calibration[1].x == 0] == 1.0)
    assert np.all(scores.purchases_30d <= scores.purchases_90d)
    assert np.all(scores.purchases_90d <= scores.purchases_365d)
    assert np.all(scores.clv >= 0.0)
