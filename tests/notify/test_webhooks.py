"""The generic webhook sender's rules, without a warehouse: back-off, URLs kept out of what is
shown, which variables make a webhook, and a receiver's Retry-After."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
from aiohttp import web

from ordersync.clock import ManualClock
from ordersync.notify.webhooks import (
    MAX_BACKOFF_SECONDS,
    Retries,
    Webhook,
    WebhookSender,
    backoff,
    webhooks_from,
    without_url,
)


def test_backoff_doubles_from_the_first_wait_and_is_capped() -> None:
    assert [backoff(10, n) for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(10, 0) == 10 and backoff(10, 10_000) == MAX_BACKOFF_SECONDS


def test_a_webhooks_url_never_shows() -> None:
    hook = Webhook("HOOK_URL", "https://hooks.example.com/T0/B1/secret", "json")
    assert "secret" not in repr(hook) and "example" not in repr(hook)
    shown = without_url("cannot connect to hooks.example.com: https://hooks.example.com/T0/B1/secret", hook)
    assert "hooks.example.com" not in shown and "secret" not in shown


def test_only_http_urls_make_webhooks_and_the_others_say_why() -> None:
    env = {"A": "https://a.example/x", "B": "", "C": "ftp://c.example/", "D": " http://d.example "}
    found, skipped = webhooks_from(["A", "B", "C", "D", "A"], {"D": "json"}, "slack", env)
    assert [(h.name, h.format) for h in found] == [("A", "slack"), ("D", "json")]
    assert found[1].url == "http://d.example"
    assert set(skipped) == {"B", "C"} and "not set" in skipped["B"] and "http" in skipped["C"]


def _sender(clock: ManualClock) -> WebhookSender[str]:
    return WebhookSender(
        lambda: None,  # type: ignore[arg-type,return-value]  # post() never touches the warehouse
        None,  # type: ignore[arg-type]
        lambda item, fmt: (item.encode(), {}),
        lambda: ([], {}),
        Retries(max_attempts=3, backoff_seconds=1.0),
        clock,
        lock_key=1,
        what="item",
        formats={},
        default_format="json",
    )


def test_a_receivers_retry_after_is_read_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
    answers = iter(["120", format_datetime(now + timedelta(seconds=300), usegmt=True), "soon"])

    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": next(answers)})

    async def run() -> list[Any]:
        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        hook = Webhook("HOOK", f"http://127.0.0.1:{port}/", "json")
        sender = _sender(ManualClock(now))
        try:
            async with aiohttp.ClientSession() as session:
                return [(await sender.post(session, hook, b"{}", {})).retry_after for _ in range(3)]
        finally:
            await runner.cleanup()

    assert asyncio.run(run()) == [120.0, 300.0, None]
