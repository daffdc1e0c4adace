"""Journey stages: prospect, new, active, at_risk, lapsed, reactivated.

A stage is a function of a customer's purchase days up to the scoring date, that date, and the
tenant's frozen `JourneyThresholds` (plus, when gating is on, P(alive)); rules top-down:

- prospect: no purchase (a profile whose orders were all cancelled);
- reactivated: the last purchase ended a lapse (the day before it the customer was at_risk or
  lapsed by these rules) and is at most `react_window` days old;
- new: a single purchase day, at most `new_window` days old;
- active: the last purchase at most `t_active` days old; at_risk: at most `t_lapsed`; lapsed: older.

Whether the customer had lapsed before coming back is read from the history itself, not from the
stored previous stage: a recompute from whole history then gives the same stage whichever sweeps
ran or were missed, and a full recompute agrees with the incremental one. The stored state only
says whether the stage changed, and from what (`advance`). A late cancellation is just a shorter history: new ->
prospect, reactivated -> lapsed. The clock alone moves new/reactivated/active -> at_risk -> lapsed;
`next_change` says when, so a sweep may select only the customers due.

Thresholds per tenant, frozen per period like RFM breakpoints: `t_active` and `t_lapsed` are the
p75 and p95 of the tenant's inter-purchase intervals (days between consecutive purchase days of one
customer), `new_window` the median days to a second purchase bounded to 30-90; a tenant with fewer
than `min_intervals` intervals gets 90 / 365 / 90 days.

P(alive) gating (off by default) can only worsen active/at_risk/lapsed of repeat buyers: BG/NBD
gives one-time buyers P(alive) = 1 whatever their age, so it never gates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ordersync.customers.rfm import Change, Tracked, content_version, track

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: fixed thresholds for tenants with too few intervals (Emarsys-style 90 / 365 days)
T_ACTIVE_FIXED = 90
T_LAPSED_FIXED = 365
#: below this many intervals a tenant's p95 rests on under ten values: too noisy to trust
MIN_INTERVALS = 200
#: `new_window` is the median days to a second purchase, bounded to these
NEW_WINDOW_MIN = 30
NEW_WINDOW_MAX = 90
REACT_WINDOW = 30
#: P(alive) below these moves a repeat buyer to at_risk / lapsed, when gating is on
P_ALIVE_AT_RISK = 0.5
P_ALIVE_LAPSED = 0.2
#: the serialised form's format number: bump it when the fields change meaning
THRESHOLDS_FORMAT = 1

_DAY = timedelta(days=1)


class Stage(StrEnum):
    """A customer's journey stage: `cdp.customer_journey.stage`."""

    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    REACTIVATED = "reactivated"


class ThresholdMethod(StrEnum):
    """Where a tenant's thresholds came from."""

    #: percentiles of the tenant's inter-purchase intervals
    INTERVALS = "intervals"
    #: too few intervals: the fixed 90 / 365 / 90 days
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class JourneyThresholds:
    """A tenant's frozen stage thresholds for one period, in days; `intervals` is the sample size."""

    period_start: date
    method: ThresholdMethod
    intervals: int
    t_active: int
    t_lapsed: int
    new_window: int
    react_window: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": THRESHOLDS_FORMAT,
            "period_start": self.period_start.isoformat(),
            "method": self.method.value,
            "intervals": self.intervals,
            "t_active": self.t_active,
            "t_lapsed": self.t_lapsed,
            "new_window": self.new_window,
            "react_window": self.react_window,
        }

    @property
    def version(self) -> str:
        return content_version(self.as_dict())

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JourneyThresholds:
        raw = json.loads(text)
        if raw.get("format") != THRESHOLDS_FORMAT:
            raise ValueError(f"thresholds of format {raw.get('format')!r}, expected {THRESHOLDS_FORMAT}")
        return cls(
            period_start=date.fromisoformat(raw["period_start"]),
            method=ThresholdMethod(raw["method"]),
            intervals=int(raw["intervals"]),
            t_active=int(raw["t_active"]),
            t_lapsed=int(raw["t_lapsed"]),
            new_window=int(raw["new_window"]),
            react_window=int(raw["react_window"]),
        )


def purchase_intervals(
    customers: npt.ArrayLike, days: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """From purchase rows (customer key, day; any order, same-day rows allowed), the tenant's
    inter-purchase intervals in days, and each repeat buyer's days from first to second purchase.
    Days are dates, numpy datetime64[D] or day numbers since 1970-01-01."""
    import numpy as np

    day = np.asarray(days, dtype="datetime64[D]").astype(np.int64)
    _, who = np.unique(np.asarray(customers), return_inverse=True)
    order = np.lexsort((day, who.reshape(-1)))
    who, day = who.reshape(-1)[order], day[order]
    distinct = np.ones(day.size, dtype=bool)
    distinct[1:] = (who[1:] != who[:-1]) | (day[1:] != day[:-1])
    who, day = who[distinct], day[distinct]
    first = np.ones(day.size, dtype=bool)
    first[1:] = who[1:] != who[:-1]
    follows = ~first[1:]  # row i + 1 is the same customer's next purchase day after row i
    gaps = np.diff(day)
    return gaps[follows], gaps[follows & first[:-1]]


def compute_thresholds(
    period_start: date,
    intervals: npt.ArrayLike,
    second_purchase_days: npt.ArrayLike,
    *,
    min_intervals: int = MIN_INTERVALS,
    react_window: int = REACT_WINDOW,
) -> JourneyThresholds:
    """A tenant's thresholds from its intervals and days to a second purchase (`purchase_intervals`).
    Percentiles interpolate linearly and round up to whole days; t_lapsed stays above t_active."""
    import numpy as np

    gaps = np.asarray(intervals, dtype=np.float64)
    seconds = np.asarray(second_purchase_days, dtype=np.float64)
    n = int(gaps.size)
    if n < min_intervals:
        return JourneyThresholds(
            period_start=period_start,
            method=ThresholdMethod.FIXED,
            intervals=n,
            t_active=T_ACTIVE_FIXED,
            t_lapsed=T_LAPSED_FIXED,
            new_window=NEW_WINDOW_MAX,
            react_window=react_window,
        )
    p75, p95 = (math.ceil(float(v)) for v in np.quantile(gaps, (0.75, 0.95)))
    median_second = math.ceil(float(np.median(seconds))) if seconds.size else NEW_WINDOW_MAX
    return JourneyThresholds(
        period_start=period_start,
        method=ThresholdMethod.INTERVALS,
        intervals=n,
        t_active=p75,
        t_lapsed=max(p95, p75 + 1),
        new_window=min(max(median_second, NEW_WINDOW_MIN), NEW_WINDOW_MAX),
        react_window=react_window,
    )


@dataclass(frozen=True, slots=True)
class Purchases:
    """A customer's valid purchases up to the scoring date: how many distinct purchase days, the
    first and the last of them, and the one before the last (None with fewer than two)."""

    purchase_days: int
    first: date | None = None
    last: date | None = None
    before_last: date | None = None

    @classmethod
    def from_days(cls, days: Iterable[date]) -> Purchases:
        distinct = sorted(set(days))
        if not distinct:
            return NO_PURCHASES
        return cls(
            purchase_days=len(distinct),
            first=distinct[0],
            last=distinct[-1],
            before_last=distinct[-2] if len(distinct) > 1 else None,
        )


NO_PURCHASES = Purchases(purchase_days=0)


@dataclass(frozen=True, slots=True)
class PAliveGate:
    """P(alive) gating for repeat buyers: below `at_risk_below` at least at_risk, below
    `lapsed_below` lapsed."""

    at_risk_below: float = P_ALIVE_AT_RISK
    lapsed_below: float = P_ALIVE_LAPSED


_ORDER = (Stage.ACTIVE, Stage.AT_RISK, Stage.LAPSED)  # the clock's direction, for gating's "worse of"


def _clock_stage(purchase_days: int, first: date, last: date, on: date, th: JourneyThresholds) -> Stage:
    """new / active / at_risk / lapsed: the rules that need no history beyond first and last."""
    since_last = (on - last).days
    if purchase_days == 1 and (on - first).days <= th.new_window:
        return Stage.NEW
    if since_last <= th.t_active:
        return Stage.ACTIVE
    if since_last <= th.t_lapsed:
        return Stage.AT_RISK
    return Stage.LAPSED


def _ended_a_lapse(p: Purchases, th: JourneyThresholds) -> bool:
    """Whether the last purchase brought back a customer who was at_risk or lapsed the day before it."""
    if p.purchase_days < 2 or p.first is None or p.before_last is None or p.last is None:
        return False
    before = _clock_stage(p.purchase_days - 1, p.first, p.before_last, p.last - _DAY, th)
    return before in (Stage.AT_RISK, Stage.LAPSED)


def stage_at(
    purchases: Purchases,
    on: date,
    thresholds: JourneyThresholds,
    *,
    p_alive: float | None = None,
    gate: PAliveGate | None = None,
) -> Stage:
    """The customer's stage on `on` (module docstring's rules). `purchases` holds days up to `on`."""
    p = purchases
    if p.purchase_days == 0 or p.first is None or p.last is None:
        return Stage.PROSPECT
    if (on - p.last).days <= thresholds.react_window and _ended_a_lapse(p, thresholds):
        return Stage.REACTIVATED
    stage = _clock_stage(p.purchase_days, p.first, p.last, on, thresholds)
    if gate is None or p_alive is None or p.purchase_days < 2 or stage not in _ORDER:
        return stage
    gated = Stage.LAPSED if p_alive < gate.lapsed_below else Stage.AT_RISK if p_alive < gate.at_risk_below else stage
    return max(stage, gated, key=_ORDER.index)


def next_change(purchases: Purchases, on: date, thresholds: JourneyThresholds) -> date | None:
    """The first day after `on` on which the clock alone changes the stage (no new data; P(alive)
    gating left out), or None if it never does (prospect, lapsed)."""
    p = purchases
    if p.first is None or p.last is None:
        return None
    now = stage_at(p, on, thresholds)
    candidates = {
        p.last + timedelta(days=thresholds.react_window + 1),
        p.first + timedelta(days=thresholds.new_window + 1),
        p.last + timedelta(days=thresholds.t_active + 1),
        p.last + timedelta(days=thresholds.t_lapsed + 1),
    }
    for day in sorted(d for d in candidates if d > on):
        if stage_at(p, day, thresholds) != now:
            return day
    return None


#: a customer's stored stage (`cdp.customer_journey`: stage, previous_stage, stage_changed_at)
JourneyState = Tracked[Stage]


def advance(
    previous: JourneyState | None,
    purchases: Purchases,
    on: date,
    thresholds: JourneyThresholds,
    *,
    p_alive: float | None = None,
    gate: PAliveGate | None = None,
) -> Change[Stage]:
    """Compute a customer's stage on `on` from whole history and compare it with the stored state.
    Deterministic: the same history, date, thresholds (and P(alive)) give the same stage whatever
    was stored; running it again on its own result changes nothing."""
    return track(previous, stage_at(purchases, on, thresholds, p_alive=p_alive, gate=gate), on)
