"""aio.run_async: the one event-loop runner."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from ordersync.aio import run_async


def test_run_async_returns_the_coroutines_result_on_uvloop() -> None:
    async def answer() -> tuple[int, bool]:
        await asyncio.sleep(0)
        return 42, isinstance(asyncio.get_running_loop(), uvloop.Loop)

    assert run_async(answer()) == (42, True)


def test_run_async_raises_what_the_coroutine_raises() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_async(fail())
