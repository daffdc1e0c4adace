"""How long the harness waits for what it does not control: a command to finish, a server to answer,
a condition to hold. Each deadline is generous for a loaded machine, and all of them are multiplied
by ORDERSYNC_TEST_TIMEOUT_SCALE (e.g. 3 on a machine busy with other work). A wait that runs out
says what it was waiting for. Random moments a fault is timed by are not deadlines: never scaled."""

from __future__ import annotations

import os

ENV = "ORDERSYNC_TEST_TIMEOUT_SCALE"


def _scale() -> float:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{ENV}={text!r} must be above 0")
    return value


SCALE = _scale()


def scaled(seconds: float) -> float:
    """`seconds` times ORDERSYNC_TEST_TIMEOUT_SCALE."""
    return seconds * SCALE
