"""ordersync's public surface: what `import ordersync` promises, pinned so a change is deliberate."""

from __future__ import annotations

import inspect
import subprocess
import sys

import ordersync
from ordersync import errors

PUBLIC = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert ordersync.__all__ == PUBLIC
    assert ordersync.__all__ == sorted(ordersync.__all__)


def test_every_name_resolves_to_its_home() -> None:
    from ordersync.config import Settings, load_settings
    from ordersync.facade import Ordersync

    for name in PUBLIC:
        assert hasattr(ordersync, name), name
    assert ordersync.Ordersync is Ordersync
    assert ordersync.Settings is Settings
    assert ordersync.load_settings is load_settings


def test_every_error_class_is_public() -> None:
    classes = {n for n, c in vars(errors).items() if inspect.isclass(c) and c.__module__ == errors.__name__}
    assert classes <= set(PUBLIC)


def test_importing_the_package_loads_no_stage() -> None:
    # The simulator imports ordersync.dates: the package itself must stay light.
    code = "import sys, ordersync; print(sorted(m for m in sys.modules if m.startswith('ordersync')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ordersync', 'ordersync.errors']"
