"""A store's orders as numpy columns: generated a day at a time, deterministic from (seed, account, first
day of history): who buys on a day, and for how much, comes from the store's population of customers
(population.py), stepped a day at a time from the history's first day.

Orders are never Python objects here. Each column holds one value per order, rows sorted by creation
time. Get-order, the list and the truth endpoint all evaluate the same columns at an instant, so they
always agree with each other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ordersync.simulator.config import DEFAULT_DAYS, AccountSpec, IdentityShares, PopulationParams
from ordersync.simulator.lifecycle import (
    MAX_STEPS,
    NEVER,
    PAY_BOLETO,
    PAY_CARD,
    PAY_PIX,
    build_timelines,
)
from ordersync.simulator.people import ProductCatalog, mix
from ordersync.simulator.population import ANONYMOUS_EMAIL, MASKED_EMAIL, Purchases, StorePopulation, hours_in_day
from ordersync.simulator.timefmt import DAY_US, F_CREATION, QUANTUM_US

# (paymentSystem id, name, group, kind, share of orders)
PAYMENT_SYSTEMS: tuple[tuple[str, str, str, int, float], ...] = (
    ("2", "Visa", "creditCard", PAY_CARD, 0.33),
    ("4", "Mastercard", "creditCard", PAY_CARD, 0.24),
    ("9", "Elo", "creditCard", PAY_CARD, 0.08),
    ("1", "American Express", "creditCard", PAY_CARD, 0.05),
    ("6", "Boleto Bancário", "bankInvoice", PAY_BOLETO, 0.16),
    ("125", "Pix", "instantPayment", PAY_PIX, 0.14),
)
_PAY_P = np.array([p[4] for p in PAYMENT_SYSTEMS]) / sum(p[4] for p in PAYMENT_SYSTEMS)
_PAY_KIND = np.array([p[3] for p in PAYMENT_SYSTEMS], dtype=np.uint8)

# Marketplace affiliates whose orders this store fulfils; 0 = the store's own sale.
AFFILIATES = ("", "AMZ", "B2W", "MLB")

# Orders per hour of the day in Brazil time (UTC-3): quiet nights, a lunch peak and an evening peak.
_BRT_HOURLY = np.array(
    [0.9, 0.5, 0.3, 0.2, 0.15, 0.2, 0.4, 0.8, 1.3, 1.8, 2.1, 2.3,
     2.3, 2.2, 2.1, 2.0, 2.0, 2.0, 2.1, 2.3, 2.6, 2.7, 2.2, 1.5]
)  # fmt: skip
_UTC_HOURLY = np.roll(_BRT_HOURLY, 3)
_UTC_HOURLY = _UTC_HOURLY / _UTC_HOURLY.sum()
# Monday..Sunday, mean 1.
_WEEKDAY = np.array([1.05, 1.08, 1.04, 1.02, 1.0, 0.9, 0.91])
_WEEKDAY = _WEEKDAY / _WEEKDAY.mean()

MAX_LINES = 4
KEYS_PER_DAY = 1_000_000
_ID_MOD = 10**12
_ID_MUL = 43_046_721  # 3**16: coprime with 10, so key -> id is a bijection mod 10**12
_ID_MUL_INV = pow(_ID_MUL, -1, _ID_MOD)
_HOUR_US = 3_600_000_000


@dataclass
class OrderColumns:
    """One row per order, sorted by creation."""

    creation: NDArray[np.int64]  # epoch µs, truncated to the precision it is written with
    key: NDArray[np.int64]  # day * KEYS_PER_DAY + rank within the day; stable across runs
    offsets: NDArray[np.int32]  # (n, MAX_STEPS) ms after creation of each workflow step
    codes: NDArray[np.int8]  # (n, MAX_STEPS) status code after each step
    edit_step: NDArray[np.int8]
    authorized: NDArray[np.int32]  # ms after creation, NEVER if never approved
    invoiced: NDArray[np.int32]
    value0: NDArray[np.int64]  # cents before any item edit
    value1: NDArray[np.int64]  # cents after the edit (== value0 when never edited)
    shipping: NDArray[np.int32]
    discount: NDArray[np.int32]  # cents, before the edit
    products: NDArray[np.uint16]  # (n, MAX_LINES) product numbers
    qty: NDArray[np.uint8]  # (n, MAX_LINES) quantities; 0 = no such line
    edit_line: NDArray[np.int8]  # line that loses one unit in the edit, -1 none
    customer: NDArray[np.uint32]  # the person who placed it (the store's population number)
    ident: NDArray[np.uint8]  # which identifiers it leaves out or writes differently (population bits)
    style: NDArray[np.uint8]  # picks date formats and other cosmetic choices
    payment: NDArray[np.uint8]  # index into PAYMENT_SYSTEMS
    affiliate: NDArray[np.uint8]  # index into AFFILIATES

    @classmethod
    def empty(cls) -> OrderColumns:
        return cls.concat([])

    @classmethod
    def concat(cls, parts: list[OrderColumns]) -> OrderColumns:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if parts:
                values[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
            else:
                shape: tuple[int, ...] = (0,)
                if f.name in ("offsets", "codes"):
                    shape = (0, MAX_STEPS)
                elif f.name in ("products", "qty"):
                    shape = (0, MAX_LINES)
                values[f.name] = np.zeros(shape, dtype=_DTYPES[f.name])
        return cls(**values)

    def take(self, rows: NDArray[np.int64] | slice) -> OrderColumns:
        return OrderColumns(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def __len__(self) -> int:
        return int(self.creation.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(int(getattr(self, f.name).nbytes) for f in fields(self))


_DTYPES: dict[str, type[np.generic]] = {
    "creation": np.int64,
    "key": np.int64,
    "offsets": np.int32,
    "codes": np.int8,
    "edit_step": np.int8,
    "authorized": np.int32,
    "invoiced": np.int32,
    "value0": np.int64,
    "value1": np.int64,
    "shipping": np.int32,
    "discount": np.int32,
    "products": np.uint16,
    "qty": np.uint8,
    "edit_line": np.int8,
    "customer": np.uint32,
    "ident": np.uint8,
    "style": np.uint8,
    "payment": np.uint8,
    "affiliate": np.uint8,
}


def account_salt(name: str) -> int:
    return zlib.crc32(name.encode())


def weekday_weight(day: int) -> float:
    """A UTC day's share of a week's orders (mean 1); 1970-01-01 was a Thursday."""
    return float(_WEEKDAY[(day + 3) % 7])


def generate_day(seed: int, salt: int, day: int, purchases: Purchases, products: ProductCatalog) -> OrderColumns:
    """The orders of one UTC day, one per purchase; the same arguments always give the same orders."""
    rng = np.random.default_rng([seed % (1 << 63), salt, day])
    n = len(purchases)
    us = day * DAY_US + (hours_in_day(purchases.at, _UTC_HOURLY) * _HOUR_US).astype(np.int64)
    style = rng.integers(0, 256, n, dtype=np.uint8)
    us -= us % QUANTUM_US[(style.astype(np.int64) + F_CREATION) & 3]
    order = np.argsort(us, kind="stable")
    us = us[order]
    style = style[order]
    person = purchases.person[order]
    cents = purchases.cents[order]

    payment = rng.choice(len(PAYMENT_SYSTEMS), size=n, p=_PAY_P).astype(np.uint8)
    affiliate = np.where(rng.random(n) < 0.08, rng.integers(1, len(AFFILIATES), n), 0).astype(np.uint8)
    ident = purchases.ident[order]
    ident = np.where((affiliate > 0) & ((ident & ANONYMOUS_EMAIL) == 0), ident | MASKED_EMAIL, ident).astype(np.uint8)
    lines = rng.choice(np.arange(1, MAX_LINES + 1), size=n, p=[0.55, 0.25, 0.13, 0.07])
    qty = np.where(rng.random((n, MAX_LINES)) < 0.82, 1, rng.integers(2, 4, (n, MAX_LINES))).astype(np.uint8)
    qty[np.arange(MAX_LINES)[None, :] >= lines[:, None]] = 0
    shipping = np.where(rng.random(n) < 0.3, 0, np.round(rng.uniform(990, 3990, n) / 10) * 10).astype(np.int32)
    off = np.where(rng.random(n) < 0.2, rng.uniform(0.05, 0.2, n), 0.0)
    # The items are chosen so that the order's value comes near the purchase's drawn value.
    prods = products.choose(rng, np.maximum(cents - shipping, 0) / (1.0 - off), qty)
    line_values = products.prices[prods] * qty
    items0 = line_values.sum(axis=1)
    discount = (items0 * off).astype(np.int32)
    value0 = items0 - discount + shipping

    tl = build_timelines(rng, _PAY_KIND[payment], qty.sum(axis=1) >= 2)
    edited = tl.edit_step >= 0
    pick = np.minimum((rng.random(n) * lines).astype(np.int64), lines - 1)
    edit_line = np.where(edited, pick, -1).astype(np.int8)
    rows = np.arange(n)
    removed = np.where(edited, products.prices[prods[rows, np.maximum(pick, 0)]], 0)
    items1 = items0 - removed
    value1 = items1 - edited_discount(discount.astype(np.int64), items0, items1) + shipping

    return OrderColumns(
        creation=us,
        key=day * KEYS_PER_DAY + np.arange(n, dtype=np.int64),
        offsets=tl.offsets,
        codes=tl.codes,
        edit_step=tl.edit_step,
        authorized=tl.authorized,
        invoiced=tl.invoiced,
        value0=value0.astype(np.int64),
        value1=value1.astype(np.int64),
        shipping=shipping,
        discount=discount,
        products=prods,
        qty=qty,
        edit_line=edit_line,
        customer=person,
        ident=ident,
        style=style,
        payment=payment,
        affiliate=affiliate,
    )


def edited_discount(discount: Any, items_before: Any, items_after: Any) -> Any:
    """A percentage discount shrinks with the items it applied to (works on ints and arrays)."""
    return discount * items_after // items_before


class Catalog:
    """All orders of one account, extended a day at a time as the simulated clock moves on."""

    def __init__(
        self,
        spec: AccountSpec,
        seed: int,
        history_start_us: int,
        *,
        history_days: float = DEFAULT_DAYS,
        population: PopulationParams | None = None,
        identities: IdentityShares | None = None,
    ) -> None:
        self.name = spec.name
        self.orders_per_day = spec.orders_per_day
        self.seed = seed
        self.salt = account_salt(spec.name)
        self.history_start_us = history_start_us
        self.products = ProductCatalog(mix(seed, self.salt))
        self._next_day = history_start_us // DAY_US
        self.population = StorePopulation(
            population or PopulationParams(),
            identities or IdentityShares(),
            (seed, self.salt, self._next_day, 0x9E0),
            spec.orders_per_day,
            history_days,
            vtex=True,
        )
        self.id_shift = mix(seed, self.salt, 0x1D) % _ID_MOD
        self.cols = OrderColumns.empty()
        # day -> (first row, first rank within the day, rows)
        self.days: dict[int, tuple[int, int, int]] = {}

    def __len__(self) -> int:
        return len(self.cols)

    def ensure(self, t_us: int) -> None:
        """Make sure every order created up to a day after t_us has been generated."""
        last_day = t_us // DAY_US + 1
        if self._next_day > last_day:
            return
        parts = [self.cols]
        row = len(self.cols)
        while self._next_day <= last_day:
            day = self._next_day
            purchases = self.population.step(weekday_weight(day))
            chunk = generate_day(self.seed, self.salt, day, purchases, self.products)
            first = int(np.searchsorted(chunk.creation, self.history_start_us, side="left"))
            if first:
                chunk = chunk.take(slice(first, None))
            self.days[day] = (row, first, len(chunk))
            row += len(chunk)
            parts.append(chunk)
            self._next_day += 1
        self.cols = OrderColumns.concat(parts)

    # ids ---------------------------------------------------------------------------------------

    def id_number(self, key: int) -> int:
        return (key * _ID_MUL + self.id_shift) % _ID_MOD + _ID_MOD

    def id_numbers(self, keys: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.asarray((keys * _ID_MUL + self.id_shift) % _ID_MOD + _ID_MOD, dtype=np.int64)

    def order_group(self, row: int) -> str:
        return str(self.id_number(int(self.cols.key[row])))

    def order_id(self, row: int) -> str:
        number = self.id_number(int(self.cols.key[row]))
        aff = int(self.cols.affiliate[row])
        return f"{AFFILIATES[aff]}-{number}-01" if aff else f"{number}-01"

    def sequence(self, row: int) -> str:
        return str(int(self.cols.key[row]) % 1_000_000_000)

    def row_of(self, order_id: str) -> int | None:
        """The row of an order id (or `seq<sequence>`), None when no such order was generated."""
        if order_id.startswith("seq") and order_id[3:].isdigit():
            return self._row_of_sequence(int(order_id[3:]))
        parts = order_id.split("-")
        if len(parts) == 3:
            prefix, number_text, suffix = parts
        elif len(parts) == 2:
            prefix, (number_text, suffix) = "", parts
        else:
            return None
        if suffix != "01" or len(number_text) != 13 or not number_text.isdigit():
            return None
        key = ((int(number_text) - _ID_MOD - self.id_shift) * _ID_MUL_INV) % _ID_MOD
        row = self._row_of_key(key)
        if row is None or AFFILIATES[int(self.cols.affiliate[row])] != prefix:
            return None
        return row

    def _row_of_key(self, key: int) -> int | None:
        day, rank = divmod(key, KEYS_PER_DAY)
        found = self.days.get(day)
        if found is None:
            return None
        row, first, count = found
        if not first <= rank < first + count:
            return None
        return row + rank - first

    def _row_of_sequence(self, sequence: int) -> int | None:
        day_mod, rank = divmod(sequence, KEYS_PER_DAY)
        for day in sorted(self.days, reverse=True):
            if day % 1000 == day_mod:
                return self._row_of_key(day * KEYS_PER_DAY + rank)
        return None

    def person_of(self, row: int) -> int:
        """Who placed the order in `row`: a person number of this store's population."""
        return int(self.cols.customer[row])

    # bulk state ---------------------------------------------------------------------------------

    def created_between(self, lo_us: int, hi_us: int) -> tuple[int, int]:
        """Row range [a, b) of orders with lo_us <= creation <= hi_us."""
        c = self.cols.creation
        return int(np.searchsorted(c, lo_us, side="left")), int(np.searchsorted(c, hi_us, side="right"))

    def steps_at(self, rows: NDArray[np.int64] | slice, t_us: int) -> NDArray[np.int64]:
        """Index of the latest step reached at t_us (orders must exist at t_us)."""
        # Unused steps hold NEVER (int32 max, ~24.8 days): cap the elapsed time below it so an old
        # order never "reaches" a step it does not have.
        elapsed_ms = np.minimum((t_us - self.cols.creation[rows]) // 1000, NEVER - 1)
        reached = self.cols.offsets[rows] <= elapsed_ms[:, None]
        return np.asarray(reached.sum(axis=1) - 1, dtype=np.int64)

    def values_at(self, rows: NDArray[np.int64] | slice, steps: NDArray[np.int64]) -> NDArray[np.int64]:
        e = self.cols.edit_step[rows]
        return np.where((e >= 0) & (e <= steps), self.cols.value1[rows], self.cols.value0[rows])

    def items_at(self, rows: NDArray[np.int64] | slice, steps: NDArray[np.int64]) -> NDArray[np.int64]:
        e = self.cols.edit_step[rows]
        total = self.cols.qty[rows].sum(axis=1, dtype=np.int64)
        return np.asarray(total - ((e >= 0) & (e <= steps)), dtype=np.int64)

    def status_at(self, rows: NDArray[np.int64] | slice, steps: NDArray[np.int64]) -> NDArray[np.int8]:
        codes = self.cols.codes[rows]
        return np.asarray(codes[np.arange(codes.shape[0]), steps], dtype=np.int8)

    def step_times(self, rows: NDArray[np.int64] | slice, column: NDArray[np.int32], t_us: int) -> NDArray[np.int64]:
        """Absolute µs of a per-order step offset column, or -1 where not reached by t_us."""
        created = self.cols.creation[rows]
        at = created + column[rows].astype(np.int64) * 1000
        return np.where((column[rows] != NEVER) & (at <= t_us), at, -1)


def row_state(cols: OrderColumns, row: int, t_us: int) -> tuple[int, int, bool]:
    """(step index, status code, edited?) of one order at t_us."""
    elapsed_ms = min((t_us - int(cols.creation[row])) // 1000, NEVER - 1)
    offs = cols.offsets[row].tolist()
    step = 0
    for j in range(1, MAX_STEPS):
        if offs[j] <= elapsed_ms:
            step = j
        else:
            break
    edit = int(cols.edit_step[row])
    return step, int(cols.codes[row, step]), 0 <= edit <= step
