"""Exceptions, typed by what the caller should do.

OrdersyncError                   root; every error ordersync raises on purpose
├── ConfigError                  fix the configuration or the command line, then run again
│   └── SchemaError              the warehouse's schema does not match this ordersync (run init / upgrade)
├── WarehouseError               the warehouse refused for good: syntax, constraint, missing object
│   ├── TransientWarehouseError  retry: connection lost, serialization failure, deadlock, lock timeout, disk full
│   │   └── ConnectionLostError  the connection is gone: reopen it, then retry
│   └── WarehouseLockedError     another process holds the DuckDB file; wait or use PostgreSQL
├── SourceError                  the source API failed for good (auth, permissions, 4xx)
│   └── TransientSourceError     retry later: 429, 5xx, timeouts
│       └── MalformedBodyError   (sources.http.transport) a 200 whose body stayed broken: quarantine it
├── BadRecordError               quarantine this record and carry on with the batch
├── TransformError               dbt failed; its log says why
├── TenantBusyError              another process holds the tenant's lease; try again later
├── LeaseLostError               this run lost its lease (fenced): stop writing, nothing it did after is kept
└── NotFoundError                the named tenant, run or object does not exist
"""

from __future__ import annotations


class OrdersyncError(Exception):
    """Root of every error ordersync raises on purpose."""

    exit_code = 1


class ConfigError(OrdersyncError):
    exit_code = 2


class SchemaError(ConfigError):
    """The warehouse's schema version is behind (run `ordersync init`) or ahead of this ordersync."""

    exit_code = 11


class NotFoundError(OrdersyncError):
    exit_code = 3


class WarehouseError(OrdersyncError):
    """The warehouse refused the statement; running it again will not help."""

    exit_code = 4


class TransientWarehouseError(WarehouseError):
    """Worth retrying: connection lost, serialization failure, deadlock, lock timeout, disk full."""

    exit_code = 12


class ConnectionLostError(TransientWarehouseError):
    """The connection is gone; open a new one before retrying."""

    exit_code = 13


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


class LeaseLostError(OrdersyncError):
    """The run's lease was taken over (it stalled, a renew failed, or its clock lied): the fence
    refused its write, and the transaction that tried was rolled back."""

    exit_code = 14


RETRYABLE_ERRORS: tuple[type[OrdersyncError], ...] = (TransientSourceError, TransientWarehouseError)


class RefusedError(OrdersyncError):
    """The operation is not allowed as asked (a full refresh in production, applying a plan that
    is not approved or was approved by its author): nothing was changed; do what the message says."""

    exit_code = 15


class StalePlanError(RefusedError):
    """What the plan is about changed since it was drafted: draft it again and review the new one."""

    exit_code = 16
