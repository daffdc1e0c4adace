"""ordersync: keep every tenant's orders complete and correct in the warehouse.

The public surface is `__all__` (pinned by tests/test_public_api.py): the facade, the settings and
their loader, and the error tree. The facade and the settings load on first use, so importing a
leaf such as `ordersync.dates` (as the simulator does) does not import every stage.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ordersync.errors import (
    BadEncodingError,
    BadRecordError,
    BodyTooLargeError,
    ConfigError,
    ConnectionLostError,
    FeedThrottledError,
    LeaseLostError,
    MalformedBodyError,
    NotAnObjectError,
    NotFoundError,
    NotPermittedError,
    OrdersyncError,
    RefusedError,
    SchemaError,
    SourceError,
    StalePlanError,
    TenantBusyError,
    TransformError,
    TransientSourceError,
    TransientWarehouseError,
    UnauthenticatedError,
    UnreadableBodyError,
    UnreadableCellError,
    UnreadableFileError,
    WarehouseError,
    WarehouseLockedError,
)

if TYPE_CHECKING:
    from ordersync.config import Settings, load_settings
    from ordersync.facade import Ordersync

__version__ = "0.1.0"

__all__ = [
    "BadEncodingError",
    "BadRecordError",
    "BodyTooLargeError",
    "ConfigError",
    "ConnectionLostError",
    "FeedThrottledError",
    "LeaseLostError",
    "MalformedBodyError",
    "NotAnObjectError",
    "NotFoundError",
    "NotPermittedError",
    "Ordersync",
    "OrdersyncError",
    "RefusedError",
    "SchemaError",
    "Settings",
    "SourceError",
    "StalePlanError",
    "TenantBusyError",
    "TransformError",
    "TransientSourceError",
    "TransientWarehouseError",
    "UnauthenticatedError",
    "UnreadableBodyError",
    "UnreadableCellError",
    "UnreadableFileError",
    "WarehouseError",
    "WarehouseLockedError",
    "__version__",
    "load_settings",
]

# name -> the module that defines it, imported on first access
_LAZY = {"Ordersync": "ordersync.facade", "Settings": "ordersync.config", "load_settings": "ordersync.config"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ordersync' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
