"""The process's own metrics (ordersync.metrics): each instrumentation point counts what happened
once, and the exposition parses as Prometheus' text format. Counters are the process's, shared by
every test in it, so each test reads what its own actions added."""

from __future__ import annotations

import asyncio
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from ordersync import metrics
from ordersync.config import WarehouseSettings
from ordersync.coordination.leases import LeaseKeeper
from ordersync.sources.vtex import VtexClient
from ordersync.warehouse import open_warehouse
from support.fake_vtex import APP_KEY, APP_TOKEN, FakeVtex, Fault, RecordingSleep, spread

Sample = tuple[str, tuple[tuple[str, str], ...]]


def samples() -> dict[Sample, float]:
    """Every sample of this process's exposition, by name and labels (parsed, as a scraper would)."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def added(before: dict[Sample, float], after: dict[Sample, float], name: str) -> dict[tuple[str, ...], float]:
    """What each labelled series of `name` gained between the two readings (series that did not move left out)."""
    out = {}
    for (sample, labels), value in after.items():
        if sample == name and value != before.get((sample, labels), 0.0):
            out[tuple(v for _, v in labels)] = value - before.get((sample, labels), 0.0)
    return out


@pytest.fixture(scope="module", autouse=True)
def _enabled() -> None:
    metrics.enable()


def test_one_request_after_a_429_counts_each_attempt_once() -> None:
    order = spread(1, datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))[0]

    async def go() -> None:
        async with FakeVtex([order]) as fake:
            fake.get_faults.append(Fault(429, b"{}", {"Retry-After": "0"}))
            sleep = RecordingSleep()
            async with VtexClient(fake.base_url, SecretStr(APP_KEY), SecretStr(APP_TOKEN), sleep=sleep) as c:
                await c.get_order(order.order_id)

    before = samples()
    asyncio.run(go())
    after = samples()
    assert added(before, after, "ordersync_store_requests_total") == {("get_order", "429"): 1, ("get_order", "200"): 1}
    assert added(before, after, "ordersync_store_throttled_total") == {("get_order",): 1}
    assert added(before, after, "ordersync_store_retries_total") == {("get_order",): 1}


def test_a_request_without_an_answer_counts_as_error() -> None:
    async def go() -> None:
        c = VtexClient("http://127.0.0.1:1/store1", SecretStr("k"), SecretStr("t"), max_retries=0)
        async with c:
            with pytest.raises(Exception, match="gave up after 0 retries"):
                await c.get_order("v1-01")

    before = samples()
    asyncio.run(go())
    assert added(before, samples(), "ordersync_store_requests_total") == {("get_order", "error"): 1}


def test_a_lease_taken_over_is_counted_once_and_a_free_or_own_one_not(tmp_path: Path, duckdb_template: Path) -> None:
    shutil.copyfile(duckdb_template, tmp_path / "wh.duckdb")
    wh = open_warehouse(WarehouseSettings(url=str(tmp_path / "wh.duckdb")))
    try:
        gone = LeaseKeeper(wh, f"{socket.gethostname()}:999999999:gone", ttl_seconds=600)
        expired = LeaseKeeper(wh, "elsewhere:1:stalled", ttl_seconds=-1)  # its lease has run out at once
        taker = LeaseKeeper(wh, "here:2:taker", ttl_seconds=600)
        before = samples()
        assert gone.acquire(1, "pull") is not None and expired.acquire(2, "pull") is not None
        assert taker.acquire(3, "pull") is not None  # free: not a take-over
        assert taker.acquire(3, "pull") is not None  # its own: not either
        assert added(before, samples(), "ordersync_lease_takeovers_total") == {}
        assert taker.acquire(2, "pull") is not None  # it ran out
        assert taker.acquire(1, "pull") is not None  # its holder's process is gone
        assert taker.acquire(1, "feed") is not None  # never held on that stream: free
        assert added(before, samples(), "ordersync_lease_takeovers_total") == {("pull",): 2}
    finally:
        wh.close()


def test_the_exposition_parses_and_names_every_family() -> None:
    metrics.landed("push", 0.01)
    metrics.push_answered(413, 0.02)
    metrics.push_answered(200, 0.02)
    metrics.feed_lag("shop", 12.5)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    for name in (
        "ordersync_store_requests",
        "ordersync_store_throttled",
        "ordersync_store_retries",
        "ordersync_lease_takeovers",
        "ordersync_run_seconds",
        "ordersync_build_seconds",
        "ordersync_landing_seconds",
        "ordersync_push_seconds",
        "ordersync_push_refused",
        "ordersync_feed_lag_seconds",
    ):
        assert name in families, name
    refused = {
        s.labels["status"]: s.value for s in families["ordersync_push_refused"].samples if s.name.endswith("_total")
    }
    assert refused.get("413", 0) >= 1 and "200" not in refused
    assert any(
        s.labels == {"tenant": "shop"} and s.value == 12.5 for s in families["ordersync_feed_lag_seconds"].samples
    )
    histogram = families["ordersync_landing_seconds"]
    assert not any("tenant" in s.labels for s in histogram.samples)  # histograms carry no tenant label
