"""The CLV model as ordersync keeps it, without the numerics: the time unit, the parameters, the
fit's report, and the rules saying whether a tenant may be fitted and how hard to penalise it.
Importing this module loads neither numpy nor scipy (the store and the CLI read models with it);
`clv.py` predicts and `clv_fit.py` fits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: A month of the 12-month CLV, in days (365.25 / 12).
MONTH_DAYS = 30.4375
#: The months of the discounted CLV.
CLV_MONTHS = 12
#: The horizons, in days, of the expected purchases reported per customer.
PURCHASE_HORIZONS_DAYS = (30, 90, 365)


class TimeUnit(StrEnum):
    """`[customers] time_unit`: the unit of t_x and T in the fit (the purchase period stays a day)."""

    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 1 if self is TimeUnit.DAY else 7


def readiness(
    history_days: int, repeat_buyers: int, *, min_history_days: int = 180, min_repeat_buyers: int = 100
) -> str | None:
    """None when a tenant's CLV may be fitted and predicted; else why not, as a sentence."""
    reasons = []
    if history_days < min_history_days:
        reasons.append(f"needs {min_history_days} days of history, has {history_days}")
    if repeat_buyers < min_repeat_buyers:
        reasons.append(f"needs {min_repeat_buyers} repeat buyers, has {repeat_buyers}")
    return "; ".join(reasons) or None


def penalizer_for(customers: int, *, unpenalized_from: int = 2_000, small: float = 1e-4) -> float:
    """The L2 penalizer of a tenant's fit: none at or above `unpenalized_from` customers, `small` below.

    A small tenant's likelihood is nearly flat along some directions (a and b of the dropout Beta
    grow together when few customers have visibly left) and the MLE can run off along them: of 48
    samples of 200-400 customers drawn from known parameters, an unpenalised fit once put b at 827
    (truth 20). The penalty is added to the mean log-likelihood of the rescaled problem, where every
    parameter is of order 1, so it does not fade with sample size: 1e-4 stopped every such run-off
    there while moving the rest a little, where 1e-3 pulled a and b down by a third. At and above
    `unpenalized_from` the data decide alone (CDNOW's 2,349 customers are fitted unpenalised).
    """
    return 0.0 if customers >= unpenalized_from else small


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rates ~ Gamma(shape r, rate alpha); dropout after a purchase ~ Beta(a, b).
    alpha is in the fit's time unit."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(shape q, rate gamma); q > 1."""

    p: float
    q: float
    gamma: float

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase (a new customer's prediction)."""
        return self.p * self.gamma / (self.q - 1.0)


@dataclass(frozen=True)
class FitReport:
    """What a fit saw and how it went: shown by `customers model` and kept with the parameters."""

    customers: int
    repeat_buyers: int
    history_days: int
    penalizer: float
    bgnbd_log_likelihood: float
    gamma_gamma_log_likelihood: float
    converged: bool
    #: corr(frequency, monetary) among repeat buyers: Gamma-Gamma assumes ~0; None when undefined
    frequency_monetary_corr: float | None


@dataclass(frozen=True)
class ClvModel:
    """A tenant's fitted CLV model: parameters, time unit and the report of the fit."""

    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    time_unit: TimeUnit
    report: FitReport

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (`cdp.clv_models`, `customers model --json`); `from_dict` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClvModel:
        return cls(
            bgnbd=BgNbdParams(**data["bgnbd"]),
            gamma_gamma=GammaGammaParams(**data["gamma_gamma"]),
            time_unit=TimeUnit(data["time_unit"]),
            report=FitReport(**data["report"]),
        )
