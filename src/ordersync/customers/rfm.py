"""RFM scores (1-5 per tenant) and the segment each (R, F) cell names.

R is the days since a customer's last purchase at the scoring date, F the purchases in the window
(`rfm_window_days`, the scoring date and the days before it), M the net revenue in that window in
the tenant's main currency; a customer without any purchase has no scores. Scores come from a
tenant's `Breakpoints`: frozen for a period (a week by default) and versioned, so a customer moves
only when their own values cross a frozen edge (or the clock moves R across one), and re-scoring a
few customers gives what a full re-score would.

One rule places a value in a bin everywhere: edges are ascending and each is the inclusive upper
bound of the bin below it (a value equal to an edge scores in the lower-value bin: for M the lower
score, for R, where fewer days is better, the higher one).

- F: fixed bins 1, 2, 3, 4-5, 6+ (no purchase in the window scores 1 too): F is tie-heavy, so
  quantiles would give equal counts different scores.
- R and M, tenants with at least `min_customers_for_quantiles` scored customers: the quintiles of
  the tenant's values (linear interpolation, as `quantile_cont` / `percentile_cont`).
- Smaller tenants: R on fixed edges 30/90/180/365 days; M by a tie-aware percent rank,
  1 + floor(5 * percent_rank) capped at 5, against the tenant's values when the breakpoints were
  computed. That rank is turned into four edges (exactly, in integers), so it is frozen and
  versioned like quintiles and a value outside the frozen population still has a score.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int8]

#: `[customers]` defaults: the window of F and M, the tenant size below which R and M use the
#: small-tenant rules, and how long breakpoints stay frozen
RFM_WINDOW_DAYS = 730
MIN_CUSTOMERS_FOR_QUANTILES = 500
BREAKPOINT_PERIOD_DAYS = 7

#: F's fixed bins 1, 2, 3, 4-5, 6+ as inclusive upper bounds
F_EDGES: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0)
#: R's edges in days for small tenants
R_FIXED_EDGES: tuple[float, ...] = (30.0, 90.0, 180.0, 365.0)
QUINTILES = (0.2, 0.4, 0.6, 0.8)
#: periods start on Mondays (1970-01-05 was one), so 7-day periods are ISO weeks
_PERIOD_ANCHOR = date(1970, 1, 5)
#: the serialised form's format number: bump it when the fields change meaning
BREAKPOINTS_FORMAT = 1


class Segment(StrEnum):
    """A customer's RFM segment: `cdp.customer_rfm.segment`."""

    CHAMPIONS = "champions"
    LOYAL_CUSTOMERS = "loyal_customers"
    POTENTIAL_LOYALISTS = "potential_loyalists"
    NEW_CUSTOMERS = "new_customers"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANT_LOSE_THEM = "cant_lose_them"
    HIBERNATING = "hibernating"
    LOST = "lost"


class BreakpointMethod(StrEnum):
    """How a tenant's R and M edges were drawn."""

    #: quintiles of the tenant's R and M
    QUANTILE = "quantile"
    #: under `min_customers_for_quantiles`: R on fixed days, M by percent rank
    SMALL_TENANT = "small_tenant"


E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)  # no slots: a generic alias call (`Tracked[Stage](...)`) breaks them on 3.11
class Tracked(Generic[E]):
    """A customer's stored segment or stage: the current value, the one before it (None until it
    first changes) and the scoring date on which it changed (`segment`, `previous_segment`,
    `segment_changed_at`; `stage`, `previous_stage`, `stage_changed_at`)."""

    current: E
    previous: E | None
    changed_at: date


@dataclass(frozen=True)  # no slots, as for Tracked
class Change(Generic[E]):
    """The state after a computation, and whether it differs from the stored one (a customer with
    nothing stored counts as changed: its first value is an event too)."""

    state: Tracked[E]
    changed: bool


def track(stored: Tracked[E] | None, value: E, on: date) -> Change[E]:
    """Compare a freshly computed value with the stored state. Running it again on its own result
    changes nothing, so a retried step writes no change twice."""
    if stored is None:
        return Change(Tracked(value, None, on), changed=True)
    if stored.current == value:
        return Change(stored, changed=False)
    return Change(Tracked(value, stored.current, on), changed=True)


_S = Segment
#: The R x F grid, R = 5 (most recent) first, F = 1..5 left to right: every cell one segment.
#: It is the widely used 10-segment grid with R = 1, F = 1 split out of hibernating as lost.
SEGMENT_ROWS: tuple[tuple[Segment, ...], ...] = (
    (_S.NEW_CUSTOMERS, _S.POTENTIAL_LOYALISTS, _S.POTENTIAL_LOYALISTS, _S.CHAMPIONS, _S.CHAMPIONS),
    (_S.PROMISING, _S.POTENTIAL_LOYALISTS, _S.POTENTIAL_LOYALISTS, _S.LOYAL_CUSTOMERS, _S.LOYAL_CUSTOMERS),
    (_S.ABOUT_TO_SLEEP, _S.ABOUT_TO_SLEEP, _S.NEED_ATTENTION, _S.LOYAL_CUSTOMERS, _S.LOYAL_CUSTOMERS),
    (_S.HIBERNATING, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANT_LOSE_THEM),
    (_S.LOST, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANT_LOSE_THEM),
)
#: (R, F) -> segment, the same table keyed by scores
SEGMENT_GRID: Mapping[tuple[int, int], Segment] = {
    (5 - i, f + 1): seg for i, row in enumerate(SEGMENT_ROWS) for f, seg in enumerate(row)
}
_SEGMENTS: tuple[Segment, ...] = tuple(Segment)


def segment(r: int, f: int) -> Segment:
    """The segment of one (R, F) cell; KeyError outside 1..5."""
    return SEGMENT_GRID[(r, f)]


def period_start(day: date, period_days: int = BREAKPOINT_PERIOD_DAYS) -> date:
    """The first day of the period holding `day`: the period whose frozen breakpoints score it."""
    offset = (day - _PERIOD_ANCHOR).days % period_days
    return day - timedelta(days=offset)


def window_start(scoring_date: date, window_days: int = RFM_WINDOW_DAYS) -> date:
    """The first day of the F and M window ending on (and including) `scoring_date`."""
    return scoring_date - timedelta(days=window_days - 1)


def recency_days(scoring_date: date, last_purchase: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """R's input: whole days from each last purchase day (dates, datetime64[D] or day numbers since
    1970-01-01) to the scoring date."""
    import numpy as np

    scoring = np.datetime64(scoring_date, "D").astype(np.int64)
    last = np.asarray(last_purchase, dtype="datetime64[D]").astype(np.int64)
    days: npt.NDArray[np.int64] = scoring - last
    return days


def content_version(fields: Mapping[str, Any]) -> str:
    """A short, stable id of a frozen set of tenant parameters: the same content, the same id."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Breakpoints:
    """A tenant's frozen R, F and M edges for one period (`cdp.rfm_breakpoints`).

    Each edge tuple holds four ascending values, each the inclusive upper bound of a bin (module
    docstring). `customers` is the population they were drawn from; `currency` the main currency
    M is counted in; `version` identifies the whole content.
    """

    period_start: date
    method: BreakpointMethod
    currency: str
    window_days: int
    customers: int
    r_edges: tuple[float, ...]
    f_edges: tuple[float, ...]
    m_edges: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": BREAKPOINTS_FORMAT,
            "period_start": self.period_start.isoformat(),
            "method": self.method.value,
            "currency": self.currency,
            "window_days": self.window_days,
            "customers": self.customers,
            "r_edges": [float(v) for v in self.r_edges],
            "f_edges": [float(v) for v in self.f_edges],
            "m_edges": [float(v) for v in self.m_edges],
        }

    @property
    def version(self) -> str:
        return content_version(self.as_dict())

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Breakpoints:
        raw = json.loads(text)
        if raw.get("format") != BREAKPOINTS_FORMAT:
            raise ValueError(f"breakpoints of format {raw.get('format')!r}, expected {BREAKPOINTS_FORMAT}")
        return cls(
            period_start=date.fromisoformat(raw["period_start"]),
            method=BreakpointMethod(raw["method"]),
            currency=str(raw["currency"]),
            window_days=int(raw["window_days"]),
            customers=int(raw["customers"]),
            r_edges=tuple(float(v) for v in raw["r_edges"]),
            f_edges=tuple(float(v) for v in raw["f_edges"]),
            m_edges=tuple(float(v) for v in raw["m_edges"]),
        )


def compute_breakpoints(
    period_start: date,
    recency_days: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    currency: str,
    window_days: int = RFM_WINDOW_DAYS,
    min_customers: int = MIN_CUSTOMERS_FOR_QUANTILES,
) -> Breakpoints:
    """A tenant's breakpoints from its scored customers (those with a purchase): their R in days and
    M, measured on the day the breakpoints are computed (normally the period's first scoring)."""
    import numpy as np

    r = np.asarray(recency_days, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    if r.shape != m.shape:
        raise ValueError(f"{r.size} recency values but {m.size} monetary values")
    n = int(r.size)
    if n >= min_customers:
        method = BreakpointMethod.QUANTILE
        r_edges = _floats(np.quantile(r, QUINTILES))
        m_edges = _floats(np.quantile(m, QUINTILES))
    else:
        method = BreakpointMethod.SMALL_TENANT
        r_edges = R_FIXED_EDGES
        m_edges = _percent_rank_edges(m)
    return Breakpoints(
        period_start=period_start,
        method=method,
        currency=currency,
        window_days=window_days,
        customers=n,
        r_edges=r_edges,
        f_edges=F_EDGES,
        m_edges=m_edges,
    )


def _floats(values: npt.ArrayLike) -> tuple[float, ...]:
    import numpy as np

    return tuple(float(v) for v in np.asarray(values, dtype=np.float64))


def _percent_rank_edges(values: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """Edges giving 1 + floor(5 * percent_rank) capped at 5, percent_rank(x) = (values below x) / (n - 1).

    Score >= k exactly when at least c_k = ceil((k - 1)(n - 1) / 5) values lie below x, that is when
    x exceeds the c_k-th smallest value: that value is the edge (integer arithmetic, no rounding).
    Values tied share a score, as they share a rank. With a single value (n - 1 = 0) the rank's
    denominator is taken as 1, so anything above it scores 5; with none, any positive M scores 5.
    """
    import numpy as np

    ordered = np.sort(values)
    n = int(ordered.size)
    if n == 0:
        return (0.0, 0.0, 0.0, 0.0)
    denominator = max(n - 1, 1)
    needed = [-(-(k - 1) * denominator // 5) for k in range(2, 6)]  # c_k >= 1 for k >= 2
    return tuple(float(ordered[c - 1]) for c in needed)


@dataclass(frozen=True, slots=True)
class RfmScores:
    """Scores of many customers, aligned with the inputs (int8 arrays of 1..5)."""

    r: IntArray
    f: IntArray
    m: IntArray

    def segment_codes(self) -> IntArray:
        """Each customer's segment as an index into `tuple(Segment)`."""
        return _segment_codes(self.r, self.f)

    def segments(self) -> list[Segment]:
        return [_SEGMENTS[c] for c in self.segment_codes().tolist()]


def _bin(edges: tuple[float, ...], values: npt.NDArray[np.float64]) -> IntArray:
    """How many edges lie strictly below each value, 0..4: the module's one binning rule."""
    import numpy as np

    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left").astype(np.int8)


def score(
    breakpoints: Breakpoints,
    recency_days: npt.ArrayLike,
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
) -> RfmScores:
    """R, F and M scores of customers under a tenant's breakpoints. R is in days since the last
    purchase, F the purchases in the window, M the net revenue in it (main currency)."""
    import numpy as np

    r = np.asarray(recency_days, dtype=np.float64)
    f = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    if not r.shape == f.shape == m.shape:
        raise ValueError(f"R, F and M differ in length: {r.size}, {f.size}, {m.size}")
    five = np.int8(5)
    return RfmScores(
        r=five - _bin(breakpoints.r_edges, r),
        f=_bin(breakpoints.f_edges, f) + np.int8(1),
        m=_bin(breakpoints.m_edges, m) + np.int8(1),
    )


@dataclass(frozen=True, slots=True)
class Score:
    """One customer's scores and segment."""

    r: int
    f: int
    m: int
    segment: Segment

    @property
    def cell(self) -> str:
        """The usual three-digit form, e.g. "545"."""
        return f"{self.r}{self.f}{self.m}"


def score_one(breakpoints: Breakpoints, recency_days: float, frequency: float, monetary: float) -> Score:
    """One customer's scores, by the same rule as `score`."""
    scores = score(breakpoints, [recency_days], [frequency], [monetary])
    r, f, m = int(scores.r[0]), int(scores.f[0]), int(scores.m[0])
    return Score(r=r, f=f, m=m, segment=segment(r, f))


def _segment_codes(r: IntArray, f: IntArray) -> IntArray:
    import numpy as np

    table = np.zeros((6, 6), dtype=np.int8)  # indexed by the scores themselves; row/column 0 unused
    for (rs, fs), seg in SEGMENT_GRID.items():
        table[rs, fs] = _SEGMENTS.index(seg)
    codes: IntArray = table[r, f]
    return codes
