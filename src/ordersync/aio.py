"""The one event-loop runner: synchronous code runs a coroutine to completion through `run_async`."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop (several times faster for many small HTTP requests)."""
    import uvloop  # kept off start-up: only commands that go on the network load it

    return uvloop.run(coro)
