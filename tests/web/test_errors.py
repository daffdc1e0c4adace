"""One error -> HTTP answer mapping: each error class has its status, the body is {"detail": ...}, and
an OrdersyncError that escapes a handler is answered from the same table, scrubbed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from ordersync.errors import (
    BadRecordError,
    ConfigError,
    ConnectionLostError,
    NotFoundError,
    OrdersyncError,
    SchemaError,
    StalePlanError,
    TenantBusyError,
    TransientWarehouseError,
    WarehouseError,
)
from ordersync.secrets import register_secret
from ordersync.sources.push.bodies import UnreadableBodyError
from ordersync.web.bodies import BadEncodingError, BodyTooLargeError
from ordersync.web.errors import answer_for, install, status_for


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (BodyTooLargeError(11), 413),
        (BadEncodingError("not gzip"), 400),
        (UnreadableBodyError("not JSON"), 400),
        (BadRecordError("bad"), 400),
        (SchemaError("behind"), 400),
        (ConfigError("no"), 400),
        (NotFoundError("no tenant x"), 404),
        (TenantBusyError("busy"), 409),
        (StalePlanError("stale"), 409),
        (ConnectionLostError("gone"), 503),
        (TransientWarehouseError("deadlock"), 503),
        (WarehouseError("constraint"), 500),
        (OrdersyncError("root"), 500),
        (ValueError("not ours"), 500),
    ],
)
def test_each_error_has_its_status(exc: Exception, status: int) -> None:
    assert status_for(exc) == status


def test_the_answer_is_the_detail_given_or_the_scrubbed_message() -> None:
    given = answer_for(BodyTooLargeError(5), "the body is over 1 MB", {"X-A": "b"})
    assert (given.status_code, given.body, given.headers["x-a"]) == (413, b'{"detail":"the body is over 1 MB"}', "b")
    register_secret("s3cr3t-value-for-the-web-test")
    own = answer_for(NotFoundError("tenant s3cr3t-value-for-the-web-test is not known"))
    assert own.status_code == 404 and b"s3cr3t" not in own.body and own.body.startswith(b'{"detail":"tenant ')


def test_an_escaped_error_is_answered_from_the_table() -> None:
    api = FastAPI()
    install(api)

    @api.get("/down")
    async def down() -> None:
        raise TransientWarehouseError("the warehouse did not answer")

    @api.get("/missing")
    async def missing() -> None:
        raise NotFoundError("no such tenant")

    async def get(path: str) -> tuple[int, object]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t") as client:
            got = await client.get(path)
            return got.status_code, got.json()

    assert asyncio.run(get("/down")) == (503, {"detail": "the warehouse did not answer"})
    assert asyncio.run(get("/missing")) == (404, {"detail": "no such tenant"})
