"""What a simulated VTEX installation looks like: its stores, volumes, clock, limits and faults."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ordersync.dates import parse_vtex_datetime

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_SEED = 42
DEFAULT_ACCOUNTS = 3
DEFAULT_ORDERS_PER_DAY = 200.0
DEFAULT_DAYS = 30.0
DEFAULT_INDEX_LAG_SECONDS = 240.0
DEFAULT_RATE_LIMIT_PER_MINUTE = 6000.0
DEFAULT_APP_KEY = "vtexappkey-simulator"
DEFAULT_APP_TOKEN = "simulator-token"
DEFAULT_EVENT_DUPLICATE_RATE = 0.01
DEFAULT_FEED_VISIBILITY_TIMEOUT_SECONDS = 240
DEFAULT_HOOK_RETRY_BASE_SECONDS = 1.0

# An account name becomes the first path segment of its base URL.
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class AccountSpec:
    """One simulated store: its account name, its average number of orders per day and, when it
    differs from the installation's `days`, its own days of history before start."""

    name: str
    orders_per_day: float = DEFAULT_ORDERS_PER_DAY
    days: float | None = None

    def __post_init__(self) -> None:
        if not _ACCOUNT_NAME.match(self.name) or self.name.startswith("_"):
            raise ValueError(f"invalid account name {self.name!r}: letters, digits, '-' and '_' only")
        if self.orders_per_day < 0:
            raise ValueError(f"orders per day must be >= 0, got {self.orders_per_day}")
        if self.days is not None and self.days < 0:
            raise ValueError(f"days of history must be >= 0, got {self.days}")

    def as_arg(self) -> str:
        """The command-line form parse_account_spec reads back."""
        text = f"{self.name}:{self.orders_per_day!r}"
        return text if self.days is None else f"{text}:{self.days!r}"


@dataclass(frozen=True)
class PopulationParams:
    """How a store's customers arrive, buy, leave and spend: BG/NBD with Gamma-Gamma spend.

    A customer's first purchase is their arrival. After it they buy at rate lambda ~ Gamma(r, alpha)
    per day (shape r, rate alpha), and after each repeat purchase they leave for good with probability
    p ~ Beta(a, b). Each customer's purchases are worth Gamma(p, nu) (shape p, rate nu) with
    nu ~ Gamma(q, gamma): a mean spend of p * gamma / (q - 1) in the store's currency. The defaults
    sit in the ranges measured on real stores: one purchase every two months or so while active (few
    people buy twice a day, so purchase days count purchases), most customers gone after a few
    purchases, 120 BRL per order on average. The store opened `open_days` before its history starts:
    the customers it won by then are there on day one.
    """

    r: float = 0.9
    alpha: float = 60.0
    a: float = 0.6
    b: float = 4.0
    p: float = 4.0
    q: float = 3.0
    gamma: float = 60.0
    open_days: float = 730.0

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b", "p", "gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"population parameter {name} must be > 0, got {getattr(self, name)}")
        if not self.q > 1:
            raise ValueError(f"population parameter q must be > 1 (a finite mean spend), got {self.q}")
        if not self.open_days >= 0:
            raise ValueError(f"open_days must be >= 0, got {self.open_days}")

    @property
    def mean_spend(self) -> float:
        return self.p * self.gamma / (self.q - 1)


@dataclass(frozen=True)
class IdentityShares:
    """Share of orders that carry only part of their person's identifiers (each drawn on its own).

    `masked_email` (`<address>-<hex>b.ct.vtex.com.br`, the address recoverable) and `anonymous_email`
    (`<hex>@ct.vtex.com.br`) are VTEX's forms: pushed events never carry them, and VTEX marketplace
    orders are always masked. An order always keeps at least one identifier that names its person.
    """

    guest: float = 0.15  # no platform id (userProfileId / customer.id)
    email_case: float = 0.05  # the address in other letter case
    masked_email: float = 0.05
    anonymous_email: float = 0.03
    no_document: float = 0.05
    no_phone: float = 0.1
    phone_format: float = 0.1  # national or punctuated instead of E.164

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0 <= value <= 1:
                raise ValueError(f"identity share {name} must be between 0 and 1, got {value}")
        if self.masked_email + self.anonymous_email > 1:
            raise ValueError("masked_email + anonymous_email must be <= 1")


def default_accounts(
    count: int = DEFAULT_ACCOUNTS, orders_per_day: float = DEFAULT_ORDERS_PER_DAY
) -> list[AccountSpec]:
    """store1..storeN, all with the same volume."""
    return [AccountSpec(f"store{i}", orders_per_day) for i in range(1, count + 1)]


def parse_account_spec(text: str) -> AccountSpec:
    """Parse the command-line form NAME:ORDERS_PER_DAY:DAYS (or NAME:ORDERS_PER_DAY for the
    installation's days, or just NAME for the default volume too)."""
    name, sep, rest = text.partition(":")
    volume, sep_days, days = rest.partition(":")
    try:
        opd = float(volume) if sep else DEFAULT_ORDERS_PER_DAY
        history = float(days) if sep_days else None
    except ValueError:
        raise ValueError(f"invalid account {text!r}: expected NAME:ORDERS_PER_DAY[:DAYS]") from None
    return AccountSpec(name.strip(), opd, history)


def parse_start(text: str) -> datetime:
    """Parse --start; a date without a timezone is taken as UTC."""
    return parse_vtex_datetime(text)


class SimulatorConfig(BaseModel):
    """Everything the simulator needs; the CLI flags map one to one onto these fields."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="0 picks a free port")
    seed: int = DEFAULT_SEED
    accounts: list[AccountSpec] = Field(default_factory=default_accounts, min_length=1)
    days: float = Field(DEFAULT_DAYS, ge=0, description="days of history before start")
    index_lag_seconds: float = Field(DEFAULT_INDEX_LAG_SECONDS, ge=0)
    fault_rate: float = Field(0.0, ge=0, le=1)
    rate_limit_per_minute: float = Field(DEFAULT_RATE_LIMIT_PER_MINUTE, ge=0, description="per account; 0 = off")
    app_key: str = DEFAULT_APP_KEY
    app_token: str = DEFAULT_APP_TOKEN
    start: datetime | None = Field(None, description="simulated now at startup; None = the real now")
    speed: float = Field(1.0, ge=0, description="simulated seconds per real second; 0 = frozen")
    # Feed v3 and Hook
    event_duplicate_rate: float = Field(
        DEFAULT_EVENT_DUPLICATE_RATE, ge=0, le=1, description="share of feed items and hook notifications sent twice"
    )
    feed_visibility_timeout_seconds: int = Field(
        DEFAULT_FEED_VISIBILITY_TIMEOUT_SECONDS, ge=0, le=43_200, description="when a feed config does not say"
    )
    hook_timeout_seconds: float = Field(5.0, gt=0, description="a delivery not answered 200 within this fails")
    hook_retry_base_seconds: float = Field(
        DEFAULT_HOOK_RETRY_BASE_SECONDS, ge=0, description="real seconds before the first retry of a delivery"
    )
    hook_retry_factor: float = Field(2.0, ge=1, description="each retry waits this many times longer")
    hook_retry_max_seconds: float = Field(3600.0, ge=0, description="longest wait between two attempts")
    hook_max_attempts: int = Field(100, ge=1, description="a delivery is dropped after this many failures")
    # Customers
    population: PopulationParams = Field(default_factory=PopulationParams)
    identities: IdentityShares = Field(default_factory=IdentityShares)

    @field_validator("start")
    @classmethod
    def _aware_start(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _unique_accounts(self) -> SimulatorConfig:
        names = [a.name for a in self.accounts]
        if len(set(names)) != len(names):
            raise ValueError(f"account names must be unique: {names}")
        return self

    def account(self, name: str) -> AccountSpec:
        for spec in self.accounts:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def history_days(self, spec: AccountSpec) -> float:
        """Days of history of one account: its own, or the installation's."""
        return self.days if spec.days is None else spec.days

    def resolved_start(self) -> datetime:
        """The simulated now at startup."""
        return self.start if self.start is not None else datetime.now(UTC)
