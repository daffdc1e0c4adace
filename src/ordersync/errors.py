"""Exceptions, typed by what the caller should do. Every exception class ordersync defines lives here
(the simulator, a stand-in for VTEX, keeps its own); tests/test_errors.py checks this tree names them all.

OrdersyncError                   root; every error ordersync raises on purpose
├── ConfigError                  fix the configuration or the command line, then run again
│   ├── SchemaError              the warehouse's schema does not match this ordersync (run init / upgrade)
│   └── UnreadableFileError      a file given to ingest cannot be read at all; the others still land
├── WarehouseError               the warehouse refused for good: syntax, constraint, missing object
│   ├── TransientWarehouseError  retry: connection lost, serialization failure, deadlock, lock timeout, disk full
│   │   └── ConnectionLostError  the connection is gone: reopen it, then retry
│   └── WarehouseLockedError     another process holds the DuckDB file; wait or use PostgreSQL
├── SourceError                  the source API failed for good (auth, permissions, 4xx)
│   └── TransientSourceError     retry later: 429, 5xx, timeouts
│       ├── MalformedBodyError   a 200 whose body stayed broken: quarantine it
│       └── FeedThrottledError   the store answered a feed or hook call with 429: pause the tenant
├── BadRecordError               quarantine this record and carry on with the batch
│   ├── NotAnObjectError         valid JSON but not an object (also a ValueError, as JSON errors are)
│   ├── UnreadableCellError      a Parquet cell has no JSON form (bytes that are not UTF-8)
│   ├── UnreadableBodyError      a pushed body as a whole cannot be read: nothing in it lands (HTTP 400)
│   └── BadEncodingError         a request body's gzip is broken or cut short (HTTP 400)
├── BodyTooLargeError            a request body passes its size limit, before or after gzip (HTTP 413)
├── TransformError               dbt failed; its log says why
├── TenantBusyError              another process holds the tenant's lease; try again later
├── LeaseLostError               this run lost its lease (fenced): stop writing, nothing it did after is kept
├── NotFoundError                the named tenant, run or object does not exist
├── UnauthenticatedError         no live token or session came with the request: send one (HTTP 401)
└── RefusedError                 not allowed as asked: nothing was changed; do what the message says
    ├── StalePlanError           what the plan is about changed since it was drafted: draft it again
    └── NotPermittedError        the token's scope does not allow it: use a token that does (HTTP 403)

`ForwardToServe` (the channel that forwards a command to a running serve) is a BaseException on
purpose: a signal to the CLI's entry point, not an error, so no `except Exception` catches it.
"""

from __future__ import annotations


class OrdersyncError(Exception):
    """Root of every error ordersync raises on purpose."""

    exit_code = 1


class ConfigError(OrdersyncError):
    """The configuration or the command line is wrong; fix it and run again."""

    exit_code = 2


class SchemaError(ConfigError):
    """The warehouse's schema version is behind (run `ordersync init`) or ahead of this ordersync."""

    exit_code = 11


class NotFoundError(OrdersyncError):
    """The named tenant, run, plan or object does not exist."""

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
    """Another process holds the DuckDB file; wait, or use PostgreSQL for many processes."""

    exit_code = 5


class SourceError(OrdersyncError):
    """The source API failed for good (auth, permissions, a 4xx); `status` is the HTTP status, if any."""

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
    """dbt failed; its log says why."""

    exit_code = 9


class TenantBusyError(OrdersyncError):
    """Another process holds the tenant's lease."""

    exit_code = 10


class LeaseLostError(OrdersyncError):
    """The run's lease was taken over (it stalled, a renew failed, or its clock lied): the fence
    refused its write, and the transaction that tried was rolled back."""

    exit_code = 14


class RefusedError(OrdersyncError):
    """The operation is not allowed as asked (a full refresh in production, applying a plan that
    is not approved or was approved by its author): nothing was changed; do what the message says."""

    exit_code = 15


class StalePlanError(RefusedError):
    """What the plan is about changed since it was drafted: draft it again and review the new one."""

    exit_code = 16


class UnauthenticatedError(OrdersyncError):
    """The request carries no live token or session (missing, unknown, revoked or expired): send a
    token (`Authorization: Bearer`) or log in again."""

    exit_code = 17


class NotPermittedError(RefusedError):
    """The token's scope does not allow this (a push token reading, a read token acting): use a
    token of the scope the message names."""

    exit_code = 18


class UnreadableFileError(ConfigError):
    """A file that cannot be read at all; the message names it and says what to do. Other files
    given with it are still ingested."""


class MalformedBodyError(TransientSourceError):
    """A 200 whose body was not the JSON expected, on every attempt (truncated, cut off, not an object).

    `body` holds the raw bytes of the last such answer, for the quarantine.
    """

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None, *, body: bytes | None = None
    ) -> None:
        super().__init__(message, status, retry_after)
        self.body = body


class FeedThrottledError(TransientSourceError):
    """The store answered a feed or hook call with 429: stop asking it for `retry_after` seconds."""


class NotAnObjectError(BadRecordError, ValueError):
    """Valid JSON, but not a JSON object. A ValueError too: callers treat it as any undecodable body."""


class UnreadableCellError(BadRecordError):
    """A Parquet cell that has no JSON form (bytes that are not UTF-8 text); its row is quarantined."""


class UnreadableBodyError(BadRecordError):
    """The body as a whole cannot be read: nothing in it lands (HTTP 400)."""


class BadEncodingError(BadRecordError):
    """A request body whose gzip is broken, cut short or followed by trailing bytes (HTTP 400)."""


class BodyTooLargeError(OrdersyncError):
    """A request body passes its size limit, as sent or after decompression (HTTP 413)."""


RETRYABLE_ERRORS: tuple[type[OrdersyncError], ...] = (TransientSourceError, TransientWarehouseError)
