"""How the web app answers an error: one body shape ({"detail": ...}) and one status per error class.

The handlers raise or catch typed errors and answer through `answer_for`; an `OrdersyncError` that
escapes a handler is answered by the app's exception handler (`install`) from the same table, with
its message scrubbed of known secrets, instead of a bare 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ordersync.errors import (
    BadEncodingError,
    BadRecordError,
    BodyTooLargeError,
    ConfigError,
    NotFoundError,
    NotPermittedError,
    OrdersyncError,
    RefusedError,
    TenantBusyError,
    TransientWarehouseError,
    UnauthenticatedError,
)
from ordersync.secrets import scrub

#: The status of each error, the first class that matches wins (so subclasses come first).
STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (BodyTooLargeError, 413),  # before or after gzip, over [serve] max_body_mb
    (BadEncodingError, 400),  # not gzip, cut short, trailing bytes
    (BadRecordError, 400),  # the body as a whole cannot be read (sources.push.bodies)
    (ConfigError, 400),
    (NotFoundError, 404),
    (UnauthenticatedError, 401),
    (NotPermittedError, 403),  # before RefusedError, its parent
    (TenantBusyError, 409),
    (RefusedError, 409),
    (TransientWarehouseError, 503),  # clients retry it with the same Idempotency-Key
    (OrdersyncError, 500),
)


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every refusal the app sends."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def status_for(exc: Exception) -> int:
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 500)


def answer_for(exc: Exception, detail: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The answer to `exc`: its status from STATUSES, and `detail` or else its own (scrubbed) message."""
    return problem(status_for(exc), scrub(str(exc)) if detail is None else detail, headers)


async def _escaped(request: Request, exc: Exception) -> JSONResponse:
    return answer_for(exc)


def install(api: FastAPI) -> None:
    """Answer every OrdersyncError that escapes a handler from STATUSES."""
    api.add_exception_handler(OrdersyncError, _escaped)
