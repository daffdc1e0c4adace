"""The settings: one model per section, and the root `Settings` with its layers
(defaults < ordersync.toml < ORDERSYNC__SECTION__KEY env vars < flags; `loader` builds it).

`ORDERSYNC_WAREHOUSE` is accepted too, as the short form of ORDERSYNC__WAREHOUSE__URL.
Store credentials are never part of the configuration: a tenant names the environment variables
that hold them, and they are read only when a request is made.
The warehouse password is registered with `ordersync.secrets` as it is read, so `scrub` can
remove it from anything printed or logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]  # dbt's own dependency
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from ordersync.secrets import command_variables, mask_url, raw_url_password, register_url_secrets

DEFAULT_WAREHOUSE = "ordersync.duckdb"
# DuckDB refuses a second connection to one file with a different configuration: one default.
DEFAULT_DUCKDB_MEMORY_LIMIT = "48MB"
DEFAULT_TIMEZONE = "America/Argentina/Buenos_Aires"
CONFIG_FILE = "ordersync.toml"
ENV_PREFIX = "ORDERSYNC__"
ENV_SHORT_WAREHOUSE = "ORDERSYNC_WAREHOUSE"

# A section refuses keys it does not know even when they arrive as a JSON value
# (ORDERSYNC__SYNC='{...}'); the key check in load_settings covers every other way in.
SECTION_CONFIG = ConfigDict(extra="forbid")


# A libpq key=value connection string starts with a parameter name and '=' ("host=db dbname=x");
# a DuckDB file whose name looks like that is given as duckdb://NAME.
_CONNINFO_START = re.compile(r"^\s*[A-Za-z_]+\s*=")


def is_postgres_url(url: str) -> bool:
    """A postgresql:// URL or a libpq key=value string (anything else is a DuckDB file path)."""
    return url.startswith(("postgresql://", "postgres://")) or bool(_CONNINFO_START.match(url))


class WarehouseSettings(BaseModel):
    model_config = SECTION_CONFIG

    url: str = Field(
        DEFAULT_WAREHOUSE,
        description="a DuckDB file path (or duckdb://PATH), a postgresql:// URL or a libpq key=value string",
    )
    # DuckDB's buffer pool for ordersync's own connection (dbt's builds have their own). Landing
    # streams through it and fills it at every checkpoint, so its size is most of a sync's peak
    # over the baseline. A larger one bought the sync no speed (64 MB landed as fast as 256 MB, and
    # a 1,000,000-order sync ran as fast with 48 MB as with 64 MB); 32 MB once ran out of memory
    # mid-sync. See docs/benchmarks.md.
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    # DuckDB's worker threads for this process's database (None: DuckDB's own choice, one per core).
    # A machine running several ordersync processes beside each other may want fewer.
    duckdb_threads: int | None = Field(None, ge=1)

    @field_validator("url")
    @classmethod
    def _remember_password(cls, url: str) -> str:
        register_url_secrets(url)
        password = raw_url_password(url)
        if password and any(c in password for c in "@/#"):
            # libpq would cut the password there and take the rest for the host, putting part of
            # the password into its error messages
            raise ValueError(
                "the password in the URL holds a raw '@', '/' or '#'; percent-encode it "
                "('@' as %40, '/' as %2F, '#' as %23)"
            )
        return url

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr() and str() of the settings (and of Settings around them) show the URL masked
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "url" and isinstance(value, str) else value


class SyncSettings(BaseModel):
    model_config = SECTION_CONFIG

    overlap_minutes: float = Field(30.0, ge=0, description="re-read this much before the checkpoint")
    index_lag_minutes: float = Field(10.0, ge=0, description="stop this far before now: the list index lags")
    trailing_days: float = Field(3.0, ge=0, description="re-read creation dates this far back every run")
    full_days: int = Field(30, ge=1, description="how far back --mode full re-reads")
    initial_days: int = Field(30, ge=1, description="first sync of a tenant without go_live_date")
    concurrency: int = Field(16, ge=1, le=256, description="concurrent requests per tenant")
    requests_per_minute: float = Field(
        3000.0,
        gt=0,
        description="client-side budget per store account, shared by every sync and feed poll of the "
        "account in this process (half of VTEX's documented 6,000, leaving the rest to other integrations)",
    )
    per_page: int = Field(100, ge=1, le=100)
    batch_size: int = Field(500, ge=1, description="versions landed per transaction")
    lookup_batch: int = Field(5000, ge=1, description="listed orders checked against the warehouse at once")
    max_retries: int = Field(8, ge=0)
    max_backoff_seconds: float = Field(60.0, gt=0)
    request_timeout_seconds: float = Field(30.0, gt=0)
    build_after_sync: bool = True
    lease_seconds: float = Field(60.0, gt=0, description="a dead process's tenants are taken over after this")
    historical_batch_days: int = Field(7, ge=1, description="days of history per historical batch")
    historical_direction: str = Field("back_to_front", pattern="^(back_to_front|front_to_back)$")
    lateness_budget_days: float = Field(
        7.0, gt=0, description="versions arriving later than this after their event are flagged (never dropped)"
    )


class DbtSettings(BaseModel):
    model_config = SECTION_CONFIG

    lookback_days: float = Field(3.0, ge=0, description="fct_orders re-reads landed rows this far back")
    state_dir: str = Field(".ordersync/dbt", description="dbt's target and log folders")
    project_dir: str | None = Field(
        None, description="a dbt project of one's own (`ordersync dbt init`) to build instead of the shipped one"
    )


class ServeSettings(BaseModel):
    model_config = SECTION_CONFIG

    host: str = Field("127.0.0.1", description="address `ordersync serve` listens on")
    port: int = Field(8787, ge=0, le=65535)
    build_every_seconds: float = Field(60.0, ge=0, description="build after landings at most this often")
    max_body_mb: float = Field(10.0, gt=0, description="largest push body, counted after decompression too")
    max_items_per_minute: int = Field(
        60_000, gt=0, description="items one push token may send a minute; past it a push gets 429 with Retry-After"
    )
    idempotency_hours: float = Field(48.0, gt=0, description="how long an Idempotency-Key's answer is kept for replays")
    pool_size: int = Field(4, ge=1, le=64, description="warehouse connections for requests (PostgreSQL)")
    max_header_kb: int = Field(64, ge=1, description="largest request head (request line and headers together)")
    header_timeout_seconds: float = Field(10.0, gt=0, description="time a client has to send the request head")
    body_timeout_seconds: float = Field(60.0, gt=0, description="time a client has to send the whole body")
    max_connections: int = Field(200, ge=1, description="open connections at once; past it new ones get 503")
    duckdb_memory_limit: str = Field(
        "256MB",
        description="DuckDB's buffer pool while serve runs: it holds what landed since the last checkpoint, "
        "which serve's own loop writes out every 30 s",
    )


class FeedSettings(BaseModel):
    model_config = SECTION_CONFIG

    poll_seconds: float = Field(60.0, gt=0, description="how often the VTEX Feed v3 is read")
    requests_per_minute: float = Field(500.0, gt=0, le=500, description="feed requests per account, at most 500")
    backoff_seconds: float = Field(60.0, ge=0, description="pause after a 429 from the feed")


def _dbt_project_vars() -> dict[str, Any]:
    """The dbt project's vars: the [orders] defaults are stated there once, for plain dbt runs too."""
    path = Path(__file__).parent.parent / "transform" / "dbt" / "dbt_project.yml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["vars"]
    return loaded


_DBT_VARS = _dbt_project_vars()
DEFAULT_PENDING_STATUSES: tuple[str, ...] = tuple(_DBT_VARS["pending_statuses"])
DEFAULT_INVALID_STATUSES: tuple[str, ...] = tuple(_DBT_VARS["invalid_statuses"])


class OrdersSettings(BaseModel):
    """What counts as revenue: revenue_daily, `ordersync revenue` and the customer analytics read these."""

    model_config = SECTION_CONFIG

    invalid_statuses: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INVALID_STATUSES),
        description="an order whose current status is one of these is not valid (never revenue)",
    )
    pending_statuses: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PENDING_STATUSES),
        description="a valid order in one of these statuses is booked, not yet paid",
    )
    pending_when_no_status: bool = Field(
        bool(_DBT_VARS["pending_when_no_status"]), description="an order without a status counts as pending"
    )


def _env_names(value: list[str]) -> list[str]:
    for name in value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an environment variable name (name the variable, not its value)")
    return value


class RevisionsSettings(BaseModel):
    model_config = SECTION_CONFIG

    closed_after_hours: float = Field(48.0, ge=0, description="a day is closed this long after it ends")
    min_delta_abs: float = Field(0.01, ge=0, description="notify when a closed day's revenue moves at least this much")
    min_delta_pct: float = Field(0.0, ge=0, description="... and at least this many percent")
    webhook_url_envs: list[str] = Field(
        default_factory=list, description="environment variables holding the webhook URLs notices go to"
    )
    webhook_formats: dict[str, str] = Field(
        default_factory=dict,
        description="per environment variable, 'slack' (text plus blocks, the default) or 'json'",
    )
    max_attempts: int = Field(20, ge=1, description="deliveries of one notice to one webhook before it is given up")
    backoff_seconds: float = Field(30.0, ge=0, description="first retry delay; doubles per failed attempt")

    @field_validator("webhook_url_envs")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        return _env_names(value)

    @field_validator("webhook_formats")
    @classmethod
    def _formats(cls, value: dict[str, str]) -> dict[str, str]:
        for name, fmt in value.items():
            if fmt not in ("slack", "json"):
                raise ValueError(f"webhook format of {name} must be 'slack' or 'json', got {fmt!r}")
        return value


class CustomersSettings(BaseModel):
    """Customer analytics (identity, profiles, RFM, CLV, journey stages), kept after every build."""

    model_config = SECTION_CONFIG

    enabled: bool = Field(True, description="keep customer analytics after every successful build")
    identity_key_env: str | None = Field(
        None, description="environment variable holding the secret customer keys are derived from"
    )
    identity_key_file: str = Field(
        ".ordersync/identity.key", description="the secret's file when identity_key_env is unset (made 0600)"
    )
    rfm_window_days: int = Field(730, ge=1, description="F and M count purchases this far back")
    rfm_period_days: int = Field(7, ge=1, description="RFM breakpoints stay frozen this long")
    min_customers_for_quantiles: int = Field(
        500, ge=1, description="below this many customers R and M use fixed edges and a percent rank"
    )
    time_unit: str = Field("day", pattern="^(day|week)$", description="the CLV model's unit of time")
    monthly_discount_rate: float = Field(0.01, ge=0, lt=1, description="CLV's monthly discount rate")
    refit_days: int = Field(7, ge=1, description="CLV models are refitted this often")
    min_history_days: int = Field(180, ge=1, description="no CLV prediction before this much history")
    min_repeat_buyers: int = Field(100, ge=1, description="no CLV prediction before this many repeat buyers")
    p_alive_gating: bool = Field(False, description="journey stages also use P(alive) (never for one-time buyers)")
    sweep_hour: int = Field(3, ge=0, le=23, description="local hour of the daily re-score that moves the date")
    full_recompute_days: int = Field(7, ge=1, description="a full recompute checks the incremental one this often")
    max_platform_ids: int = Field(
        20, ge=1, description="an identifier shared by more platform ids than this joins no customers"
    )
    webhook_url_envs: list[str] = Field(
        default_factory=list, description="environment variables holding the URLs change events go to"
    )
    deliver_initial: bool = Field(False, description="also deliver a tenant's first computation's events")
    max_attempts: int = Field(20, ge=1, description="deliveries of one event batch before it is given up")
    backoff_seconds: float = Field(30.0, ge=0, description="first retry delay; doubles per failed attempt")

    @field_validator("webhook_url_envs")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        return _env_names(value)

    @field_validator("identity_key_env")
    @classmethod
    def _key_env(cls, value: str | None) -> str | None:
        return None if value is None else _env_names([value])[0]


class EnvironmentSettings(BaseModel):
    model_config = SECTION_CONFIG

    name: str = Field(
        "development",
        description="'production' refuses every full refresh and applies only plans approved by someone else",
    )

    @property
    def is_production(self) -> bool:
        return self.name.strip().lower() == "production"


class LogSettings(BaseModel):
    """What every command logs on stderr (`--log-format` and `--log-level` win over these)."""

    model_config = SECTION_CONFIG

    format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object a line (time, level, logger, message, process, ...)"
    )
    level: Literal["debug", "info", "warning", "error"] = Field("warning", description="the least severe level logged")


class _CommandEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading `command_variables()` instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(command_variables(), self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


# The parsed ordersync.toml of the load_settings call in progress (checked before it is used).
FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("ordersync_file_values", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    warehouse: WarehouseSettings = WarehouseSettings()
    sync: SyncSettings = SyncSettings()
    dbt: DbtSettings = DbtSettings()
    serve: ServeSettings = ServeSettings()
    feed: FeedSettings = FeedSettings()
    orders: OrdersSettings = OrdersSettings()
    revisions: RevisionsSettings = RevisionsSettings()
    customers: CustomersSettings = CustomersSettings()
    environment: EnvironmentSettings = EnvironmentSettings()
    log: LogSettings = LogSettings()
    #: "system", a fixed ISO-8601 instant, or an http:// URL of a clock to follow (tests, simulations)
    clock: str = "system"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        values = FILE_VALUES.get()
        file_source: PydanticBaseSettingsSource = (
            TomlConfigSettingsSource(settings_cls, CONFIG_FILE)
            if values is None
            else InitSettingsSource(settings_cls, values)
        )
        return (init_settings, _CommandEnvSource(settings_cls), file_source)
