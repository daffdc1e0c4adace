"""Layered configuration: defaults < ordersync.toml < ORDERSYNC__SECTION__KEY env vars < flags.

`settings` holds the sections and the root model, `loader` reads the layers and checks every key.
Secrets read from the environment are `ordersync.secrets`' job, not configuration.
"""

from ordersync.config.loader import SettingsT, load_settings
from ordersync.config.settings import (
    CONFIG_FILE,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_INVALID_STATUSES,
    DEFAULT_PENDING_STATUSES,
    DEFAULT_TIMEZONE,
    DEFAULT_WAREHOUSE,
    ENV_PREFIX,
    ENV_SHORT_WAREHOUSE,
    SECTION_CONFIG,
    CustomersSettings,
    DbtSettings,
    EnvironmentSettings,
    FeedSettings,
    LogSettings,
    OrdersSettings,
    RevisionsSettings,
    ServeSettings,
    Settings,
    SyncSettings,
    WarehouseSettings,
    is_postgres_url,
)

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DUCKDB_MEMORY_LIMIT",
    "DEFAULT_INVALID_STATUSES",
    "DEFAULT_PENDING_STATUSES",
    "DEFAULT_TIMEZONE",
    "DEFAULT_WAREHOUSE",
    "ENV_PREFIX",
    "ENV_SHORT_WAREHOUSE",
    "SECTION_CONFIG",
    "CustomersSettings",
    "DbtSettings",
    "EnvironmentSettings",
    "FeedSettings",
    "LogSettings",
    "OrdersSettings",
    "RevisionsSettings",
    "ServeSettings",
    "Settings",
    "SettingsT",
    "SyncSettings",
    "WarehouseSettings",
    "is_postgres_url",
    "load_settings",
]
