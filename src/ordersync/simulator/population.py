"""Simulated customers who arrive, buy and leave: the BG/NBD purchase process with Gamma-Gamma spend.

A store's population is stepped a day at a time, in order, in "operational" days: a day's length is
its weekday weight (mean 1), so busy days have more purchases without changing anyone's rate. Each
step returns who bought, where in the day, for how much, and which of their identifiers the order
carries. The arrival rate is solved so that the configured orders per day hold on average over the
history, counting the customers who arrived before it (the store opened `open_days` earlier).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ordersync.simulator.config import IdentityShares, PopulationParams
from ordersync.simulator.people import Customer

# Identifier variants of one order, as bits.
GUEST = 1  # no platform id
EMAIL_CASE = 2
MASKED_EMAIL = 4  # <address>-<hex>b.ct.vtex.com.br
ANONYMOUS_EMAIL = 8  # <hex>@ct.vtex.com.br
NO_DOCUMENT = 16
NO_PHONE = 32
PHONE_FORMAT = 64

_QUADRATURE_POINTS = 500
_INTEGRAL_POINTS = 65


@dataclass(frozen=True)
class Purchases:
    """Purchases of one step, in no particular order."""

    person: NDArray[np.uint32]
    at: NDArray[np.float64]  # where in the step, in [0, 1)
    cents: NDArray[np.int64]  # the purchase's value as drawn
    ident: NDArray[np.uint8]  # identifier variant bits

    def __len__(self) -> int:
        return int(self.person.shape[0])


def draw_traits(
    rng: np.random.Generator, n: int, params: PopulationParams
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(purchase rate per day, dropout probability, spend rate nu) of n new customers."""
    rate = rng.standard_gamma(params.r, n) / params.alpha
    dropout = rng.beta(params.a, params.b, n)
    nu = rng.standard_gamma(params.q, n) / params.gamma
    return rate, dropout, nu


def draw_values(
    rng: np.random.Generator, nu: NDArray[np.floating[Any]], params: PopulationParams
) -> NDArray[np.float64]:
    """A purchase's value ~ Gamma(p, nu), in currency units."""
    return np.asarray(rng.standard_gamma(params.p, nu.shape[0]) / nu, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _dropout_quadrature(a: float, b: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights for averages over p ~ Beta(a, b): p = u**(1/a) takes away the pole at 0."""
    u = (np.arange(_QUADRATURE_POINTS) + 0.5) / _QUADRATURE_POINTS
    p = u ** (1.0 / a)
    w = (1.0 - p) ** (b - 1.0)
    return p, w / w.sum()


def expected_repeats(params: PopulationParams, t: NDArray[np.float64]) -> NDArray[np.float64]:
    """E[X(t)]: expected repeat purchases in the t days after a first purchase.

    Given lambda and p, E[X(t)] = (1 - exp(-lambda p t)) / p; averaged over lambda ~ Gamma(r, alpha)
    that is (1 - (alpha / (alpha + p t))**r) / p, then over p ~ Beta(a, b) numerically.
    """
    p, w = _dropout_quadrature(params.a, params.b)
    x = -np.expm1(-params.r * np.log1p(np.outer(t, p) / params.alpha)) / p
    return np.asarray(x @ w, dtype=np.float64)


@functools.lru_cache(maxsize=64)
def arrival_rate(params: PopulationParams, orders_per_day: float, history_days: float) -> float:
    """New customers per (operational) day so that the history averages `orders_per_day`.

    Customers arriving at rate A from `open_days` before the history (length H) place, in expectation,
    A * (H + integral of E[X(v)] for v from open_days to open_days + H) orders within it.
    """
    if orders_per_day <= 0:
        return 0.0
    h = max(history_days, 1.0)
    v = np.linspace(params.open_days, params.open_days + h, _INTEGRAL_POINTS)
    e = expected_repeats(params, v)
    repeats = float(np.sum((e[1:] + e[:-1]) * np.diff(v)) / 2.0)
    return orders_per_day * h / (h + repeats)


def draw_identity_variants(rng: np.random.Generator, n: int, shares: IdentityShares, vtex: bool) -> NDArray[np.uint8]:
    """Which identifiers each of n orders leaves out or writes differently (bits above)."""
    u = rng.random((n, 6))
    bits = np.zeros(n, dtype=np.uint8)
    bits[u[:, 0] < shares.guest] |= GUEST
    bits[u[:, 1] < shares.email_case] |= EMAIL_CASE
    if vtex:
        bits[u[:, 2] < shares.masked_email] |= MASKED_EMAIL
        anonymous = (u[:, 2] >= shares.masked_email) & (u[:, 2] < shares.masked_email + shares.anonymous_email)
        bits[anonymous] |= ANONYMOUS_EMAIL
    bits[u[:, 3] < shares.no_document] |= NO_DOCUMENT
    bits[u[:, 4] < shares.no_phone] |= NO_PHONE
    bits[u[:, 5] < shares.phone_format] |= PHONE_FORMAT
    # Nothing left to name the person by: the order keeps its document.
    bare = GUEST | ANONYMOUS_EMAIL | NO_DOCUMENT | NO_PHONE
    bits[(bits & bare) == bare] &= ~np.uint8(NO_DOCUMENT)
    return bits


class _Active:
    """Customers who have bought at least once and may buy again, in columns that grow in place
    (by half again when full: a step appends its few newcomers without copying everyone)."""

    def __init__(self) -> None:
        self.n = 0
        self.ids = np.empty(0, dtype=np.uint32)
        # Traits in single precision (a third less memory for a big store's million customers); the
        # next purchase's day in double, so that it places a purchase within its day to the second.
        self.lam = np.empty(0, dtype=np.float32)
        self.dropout = np.empty(0, dtype=np.float32)
        self.nu = np.empty(0, dtype=np.float32)
        self.next = np.empty(0, dtype=np.float64)  # operational day of the next purchase; inf once gone

    def append(
        self,
        ids: NDArray[np.uint32],
        lam: NDArray[np.floating[Any]],
        dropout: NDArray[np.floating[Any]],
        nu: NDArray[np.floating[Any]],
        next_at: NDArray[np.float64],
    ) -> None:
        k = int(ids.shape[0])
        need = self.n + k
        if need > self.ids.shape[0]:
            size = max(need, self.ids.shape[0] * 3 // 2, 1024)
            for name in ("ids", "lam", "dropout", "nu", "next"):
                old = getattr(self, name)
                grown = np.empty(size, dtype=old.dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)
        end = self.n + k
        self.ids[self.n : end] = ids
        self.lam[self.n : end] = lam
        self.dropout[self.n : end] = dropout
        self.nu[self.n : end] = nu
        self.next[self.n : end] = next_at
        self.n = end

    def compact(self) -> None:
        """Drop the customers who left (never due again)."""
        keep = np.nonzero(np.isfinite(self.next[: self.n]))[0]
        for name in ("ids", "lam", "dropout", "nu", "next"):
            column = getattr(self, name)
            column[: keep.shape[0]] = column[keep]
        self.n = int(keep.shape[0])


class StorePopulation:
    """One store's customers, stepped forward a day at a time; the same arguments give the same purchases.

    The customers already there on day one are drawn lazily, a step at a time: only those whose first
    purchase in the history falls in the step (a Poisson process split by that time: the steps are
    independent), so a big store's never-again buyers cost nothing.
    """

    def __init__(
        self,
        params: PopulationParams,
        shares: IdentityShares,
        seed: tuple[int, ...],
        orders_per_day: float,
        history_days: float,
        *,
        vtex: bool,
    ) -> None:
        self.params = params
        self.shares = shares
        self.vtex = vtex
        self.rng = np.random.default_rng([s % (1 << 63) for s in seed])
        self.rate = arrival_rate(params, orders_per_day, history_days)
        self.active = _Active()
        self.persons = 0  # person numbers handed out so far
        self.left = 0  # customers who left for good
        self.now = 0.0  # operational days since the history began
        self._gone = 0  # customers who left but are still in the active columns

    def _day_one(self, s: float, e: float) -> None:
        """The day-one customers whose first purchase in the history falls in [s, e), joining the active.

        One who arrived tau days before the history with dropout p has, given lambda, survived with
        probability exp(-lambda p tau) (leaving is a thinning of the purchases) and then buys first
        after t with probability exp(-lambda t); over lambda ~ Gamma(r, alpha) both together are
        f(p tau + t), f(y) = (alpha / (alpha + y))**r. So the first purchase T in [s, e) has
        probability g(x) = f(x + s) - f(x + e), x = p tau, at most g(0): candidates are drawn at the
        rate g(0) and kept with probability g(x) / g(0), T by inverting f. Given T, lambda ~
        Gamma(r + 1, alpha + x + T).
        """
        params, rng = self.params, self.rng
        r, alpha = params.r, params.alpha

        def f(y: NDArray[np.float64] | float) -> NDArray[np.float64]:
            return np.asarray((alpha / (alpha + np.asarray(y))) ** r, dtype=np.float64)

        g0 = float(f(s) - f(e))
        n = int(rng.poisson(self.rate * params.open_days * g0))
        dropout = rng.beta(params.a, params.b, n)
        x = dropout * rng.random(n) * params.open_days
        low = f(x + e)
        w = rng.random(n) * g0 + low  # uniform on [f(x + e), f(x + e) + g(0)]
        kept = w < f(x + s)
        dropout, x, w = dropout[kept], x[kept], w[kept]
        first = alpha * w ** (-1.0 / r) - alpha - x
        k = int(dropout.shape[0])
        lam = rng.standard_gamma(r + 1.0, k) / (alpha + x + first)
        nu = rng.standard_gamma(params.q, k) / params.gamma
        ids = np.arange(self.persons, self.persons + k, dtype=np.uint32)
        self.persons += k
        self.active.append(ids, lam, dropout, nu, np.clip(first, s, np.nextafter(e, s)))

    def step(self, length: float) -> Purchases:
        """The purchases of the next `length` operational days."""
        rng = self.rng
        start, end = self.now, self.now + length
        if length > 0:
            self._day_one(start, end)
        # Arrivals: their first purchase is their arrival.
        k = int(rng.poisson(self.rate * length)) if length > 0 else 0
        first = start + rng.random(k) * length
        rate, dropout, nu = draw_traits(rng, k, self.params)
        new_ids = np.arange(self.persons, self.persons + k, dtype=np.uint32)
        self.persons += k
        people = self.active
        people.append(new_ids, rate, dropout, nu, first + rng.standard_exponential(k) / rate)
        who: list[NDArray[np.uint32]] = [new_ids]
        when: list[NDArray[np.float64]] = [first]
        spend: list[NDArray[np.floating[Any]]] = [nu]
        due = np.nonzero(people.next[: people.n] < end)[0]
        while due.size:
            t = people.next[due]
            who.append(people.ids[due])
            when.append(t)
            spend.append(people.nu[due])
            leaves = rng.random(due.size) < people.dropout[due]
            t = t + rng.standard_exponential(due.size) / people.lam[due]
            people.next[due] = np.where(leaves, np.inf, t)
            gone = int(np.count_nonzero(leaves))
            self._gone += gone
            self.left += gone
            due = due[~leaves & (t < end)]
        if self._gone * 8 > people.n:  # compact now and then: the gone are never due again
            people.compact()
            self._gone = 0
        self.now = end
        person = np.concatenate(who)
        nus = np.concatenate(spend)
        cents = np.maximum(np.round(draw_values(rng, nus, self.params) * 100.0), 1).astype(np.int64)
        at = (np.concatenate(when) - start) / length if length > 0 else np.zeros(person.shape[0])
        ident = draw_identity_variants(rng, person.shape[0], self.shares, self.vtex)
        return Purchases(person=person, at=np.clip(at, 0.0, np.nextafter(1.0, 0.0)), cents=cents, ident=ident)


def hours_in_day(at: NDArray[np.float64], hourly: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map positions in a day (0..1, uniform) to hours (0..24) that follow the hourly weights."""
    weights = np.asarray(hourly, dtype=np.float64) / float(np.sum(hourly))
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    hour = np.clip(np.searchsorted(cdf, at, side="right") - 1, 0, len(weights) - 1)
    return np.asarray(hour + (at - cdf[hour]) / weights[hour], dtype=np.float64)


# Identifiers as an order writes them ---------------------------------------------------------------


@dataclass(frozen=True)
class Identifiers:
    """The identifiers one order carries; None when it leaves one out."""

    platform_id: str | None
    email: str
    document: str | None
    phone: str | None


def order_identifiers(person: Customer, bits: int, hx: str) -> Identifiers:
    """What an order of `person` with variant `bits` carries; `hx` is the order's own hex randomness."""
    email = person.email
    if bits & EMAIL_CASE:
        email = email.upper() if int(hx[-1], 16) & 1 else email.title()
    if bits & ANONYMOUS_EMAIL:
        email = f"{hx[32:64][::-1]}@ct.vtex.com.br"
    elif bits & MASKED_EMAIL:
        email = f"{email}-{hx[120:128]}b.ct.vtex.com.br"
    phone: str | None = person.phone
    if bits & NO_PHONE:
        phone = None
    elif bits & PHONE_FORMAT:
        phone = national_phone(person.phone, int(hx[-2], 16))
    return Identifiers(
        platform_id=None if bits & GUEST else person.user_profile_id,
        email=email,
        document=None if bits & NO_DOCUMENT else person.document,
        phone=phone,
    )


def national_phone(e164: str, pick: int) -> str:
    """+55DD9XXXXXXXX written as people type it: (DD) 9XXXX-XXXX, DD 9XXXX-XXXX or 0DD9XXXXXXXX."""
    area, number = e164[3:5], e164[5:]
    forms = (f"({area}) {number[:5]}-{number[5:]}", f"{area} {number[:5]}-{number[5:]}", f"0{area}{number}")
    return forms[pick % len(forms)]
