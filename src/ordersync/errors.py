"""Exceptions, typed by what the caller should do.

OrdersyncError                 root; every error ordersync raises on purpose
├── ConfigError                fix the configuration or the command line, then run again
├── WarehouseError             the warehouse refused or is unreachable
│   └── WarehouseLockedError   another process holds the DuckDB file; wait or use PostgreSQL
├── SourceError                the source API failed for good (auth, permissions, 4xx)
├── TransientSourceError       retry later: 429, 5xx, timeouts, broken bodies
├── BadRecordError             quarantine this record and carry on with the batch
├── TransformError             dbt failed; its log says why
├── TenantBusyError            another process is syncing the tenant; try again later
└── NotFoundError              the named tenant, run or object does not exist
"""

from __future__ import annotations


class OrdersyncError(Exception):
    """Root of every error ordersync raises on purpose."""

    exit_code = 1


class ConfigError(OrdersyncError):
    exit_code = 2


class NotFoundError(OrdersyncError):
    exit_code = 3


class WarehouseError(OrdersyncError):
    exit_code = 4


class WarehouseLockedError(WarehouseError):
    exit_code = 5


class SourceError(OrdersyncError):
    exit_code = 6

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientSourceError(SourceError):
    """A failure worth retrying; `retry_after` is the server's hint in seconds, if it gave one."""

    exit_code = 7

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class BadRecordError(OrdersyncError):
    """One record cannot be landed; it goes to quarantine with this message as its reason."""

    exit_code = 8


class TransformError(OrdersyncError):
    exit_code = 9


class TenantBusyError(OrdersyncError):
    """Another process holds the tenant's lease."""

    exit_code = 10
