"""The web's metrics: every push answer timed once and a refused body counted once by its status
(the app's own middleware), other routes not counted; GET /metrics answers only whom the caller's
authorisation accepts, with an exposition that parses."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from prometheus_client.parser import text_string_to_metric_families

from ordersync import metrics
from ordersync.facade import Ordersync
from ordersync.web.app import create_app
from ordersync.web.gate import Gate
from ordersync.web.metrics import add_metrics_route
from support.sim import settings_for


def call(api: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def push_counts() -> tuple[dict[str, float], float]:
    """(refused pushes by status, pushes timed) so far in this process."""
    refused: dict[str, float] = {}
    timed = 0.0
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            if s.name == "ordersync_push_refused_total":
                refused[s.labels["status"]] = s.value
            elif s.name == "ordersync_push_seconds_count":
                timed += s.value
    return refused, timed


def test_a_refused_push_is_counted_once_and_other_routes_not(tmp_path: Path, duckdb_template: Path) -> None:
    metrics.enable()
    shutil.copyfile(duckdb_template, tmp_path / "wh.duckdb")
    with Ordersync(settings_for(str(tmp_path / "wh.duckdb"), tmp_path)) as app:
        gate = Gate(app)
        try:
            api = create_app(gate)
            before, timed = push_counts()
            assert call(api, "POST", "/v1/tenants/shop/orders", content=b"[]").status_code == 401  # no token
            assert call(api, "POST", "/v1/hooks/vtex/shop", content=b'{"hookConfig": "ping"}').status_code == 200
            assert call(api, "GET", "/v1/health").status_code == 200
            after, timed_after = push_counts()
        finally:
            gate.close()
    assert after.get("401", 0) - before.get("401", 0) == 1
    assert {k: v for k, v in after.items() if k != "401"} == {k: v for k, v in before.items() if k != "401"}
    assert timed_after - timed == 1  # the hook and health answers are not pushes


def test_the_metrics_route_answers_only_whom_it_is_told_to() -> None:
    api = FastAPI()

    async def render() -> tuple[bytes, str]:
        metrics.enable()
        return metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8"

    async def authorize(request: Request) -> bool:
        return request.headers.get("authorization") == "Bearer good"

    add_metrics_route(api, render, authorize)
    refused = call(api, "GET", "/metrics", headers={"Authorization": "Bearer bad"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "ordersync" not in refused.text
    answer = call(api, "GET", "/metrics", headers={"Authorization": "Bearer good"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(answer.text)}
    assert "ordersync_store_requests" in names
