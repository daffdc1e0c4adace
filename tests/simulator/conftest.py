"""Fixtures for the simulator tests: a real HTTP server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ordersync.simulator.server import RunningSimulator, start_in_thread
from support.sim import make_config


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    """A frozen simulator shared by a module's read-only tests."""
    with start_in_thread(make_config()) as running:
        yield running
