"""Progress and messages from core code go through a Reporter; core code never prints.

The CLI passes a Rich reporter (progress bars), tests and the worker a silent or logging one.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("ordersync")


class Task(Protocol):
    def advance(self, amount: float = 1) -> None: ...
    def update(self, *, total: float | None = None, description: str | None = None) -> None: ...
    def close(self) -> None: ...


class Reporter(Protocol):
    def task(self, description: str, total: float | None = None) -> Task: ...
    def message(self, text: str) -> None: ...


class _NullTask:
    def advance(self, amount: float = 1) -> None:
        pass

    def update(self, *, total: float | None = None, description: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class SilentReporter:
    """Reports nothing; messages go to the `ordersync` logger at INFO."""

    def task(self, description: str, total: float | None = None) -> Task:
        return _NullTask()

    def message(self, text: str) -> None:
        log.info(text)
