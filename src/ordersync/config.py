"""Layered configuration: defaults < ordersync.toml < ORDERSYNC__SECTION__KEY env vars < flags.

`ORDERSYNC_WAREHOUSE` is accepted too, as the short form of ORDERSYNC__WAREHOUSE__URL.
Store credentials are never part of the configuration: a tenant names the environment variables
that hold them, and they are read only when a request is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ordersync.errors import ConfigError

DEFAULT_WAREHOUSE = "ordersync.duckdb"
# DuckDB refuses a second connection to one file with a different configuration: one default.
DEFAULT_DUCKDB_MEMORY_LIMIT = "48MB"
DEFAULT_TIMEZONE = "America/Argentina/Buenos_Aires"
CONFIG_FILE = "ordersync.toml"


class WarehouseSettings(BaseModel):
    url: str = Field(DEFAULT_WAREHOUSE, description="a DuckDB file path or a postgresql:// URL")
    # DuckDB's buffer pool for ordersync's own connection (dbt's builds have their own). Landing
    # streams through it and fills it at every checkpoint, so its size is most of a sync's peak
    # over the baseline. A larger one bought the sync no speed (64 MB landed as fast as 256 MB, and
    # a 1,000,000-order sync ran as fast with 48 MB as with 64 MB); 32 MB once ran out of memory
    # mid-sync. See docs/benchmarks.md.
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))


class SyncSettings(BaseModel):
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


class DbtSettings(BaseModel):
    lookback_days: float = Field(3.0, ge=0, description="fct_orders re-reads landed rows this far back")
    state_dir: str = Field(".ordersync/dbt", description="dbt's target and log folders")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERSYNC__",
        env_nested_delimiter="__",
        toml_file=CONFIG_FILE,
        extra="forbid",
    )

    warehouse: WarehouseSettings = WarehouseSettings()
    sync: SyncSettings = SyncSettings()
    dbt: DbtSettings = DbtSettings()
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
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings from every layer; flags come in as `overrides` ({"warehouse": {"url": ...}})."""
    overrides = dict(overrides or {})
    short = os.environ.get("ORDERSYNC_WAREHOUSE")
    if short and "ORDERSYNC__WAREHOUSE__URL" not in os.environ:
        overrides.setdefault("warehouse", {}).setdefault("url", short)
    path = config_file or Path(CONFIG_FILE)
    if config_file is not None and not config_file.exists():
        raise ConfigError(f"config file {config_file} does not exist; create it or drop --config")
    try:
        cls: type[Settings] = Settings
        if path != Path(CONFIG_FILE):

            class _FileSettings(Settings):
                model_config = SettingsConfigDict(toml_file=str(path))

            cls = _FileSettings
        return cls(**_merge_nested(overrides))
    except ConfigError:
        raise
    except Exception as exc:  # pydantic's ValidationError, tomllib's TOMLDecodeError
        raise ConfigError(f"invalid configuration ({path}, ORDERSYNC__* variables or flags): {exc}") from exc


def _merge_nested(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def read_secret(env_var: str | None, what: str) -> SecretStr:
    """Read a credential from the environment variable a tenant names, without ever echoing it."""
    if not env_var:
        raise ConfigError(f"{what}: no environment variable is configured; set it with tenants add")
    value = os.environ.get(env_var)
    if value is None:
        raise ConfigError(f"{what}: environment variable {env_var} is not set; export it and run again")
    return SecretStr(value)
