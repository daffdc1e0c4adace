"""What the warehouse holds, as Prometheus metrics read at scrape time, and the exposition `serve`
answers GET /metrics with.

Only `serve` exposes these (the worker's metrics port shows its own process's alone), so a fleet of
processes counts nothing twice: what happened in a process (requests to the stores, durations) is
in ordersync.metrics, what is recorded in the warehouse is here. Each family is one aggregate
query, whatever the number of tenants; a scrape of 1,000 tenants is seven queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from ordersync import metrics
from ordersync.land.quarantine import unresolved_counts
from ordersync.observe.lateness import BUCKETS, LATENESS_SECONDS, bucket_counts
from ordersync.outcomes import DeliveryState, RunStatus
from ordersync.sync.reconcile import open_days
from ordersync.warehouse import Warehouse

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

_TENANTS = "SELECT tenant_id, tenant_name FROM cdp.tenants"
_RUNS = "SELECT tenant_id, mode, status, count(*) FROM cdp.sync_runs GROUP BY 1, 2, 3"
_NOTICES = (
    "SELECT n.tenant_id, count(d.delivered_at), count(d.given_up_at) FROM cdp.notice_deliveries d "
    "JOIN cdp.revision_notices n ON n.notice_id = d.notice_id GROUP BY 1"
)
_CUSTOMER_EVENTS = (
    "SELECT tenant_id, count(delivered_at), count(given_up_at) FROM cdp.customer_event_deliveries GROUP BY 1"
)


def _versions_sql() -> tuple[str, tuple[float, ...]]:
    columns, params = bucket_counts("v.s")
    sql = (
        f"SELECT v.tenant_id, count(*), {columns} FROM "
        f"(SELECT tenant_id, {LATENESS_SECONDS} AS s FROM cdp.orders_landing) v GROUP BY 1"
    )
    return sql, params


@dataclass
class WarehouseCounts:
    """Everything the collector exposes, per tenant id; read at once so a scrape is consistent."""

    names: dict[int, str] = field(default_factory=dict)
    #: (tenant_id, mode, status) -> runs
    runs: dict[tuple[int, str, str], int] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    #: tenant_id -> versions per lateness bucket, in BUCKETS' order
    lateness: dict[int, tuple[int, ...]] = field(default_factory=dict)
    quarantined: dict[int, int] = field(default_factory=dict)
    discrepancies: dict[int, int] = field(default_factory=dict)
    #: tenant_id -> (delivered, given up): per webhook, revision notices and customer event batches
    notices: dict[int, tuple[int, int]] = field(default_factory=dict)
    customer_events: dict[int, tuple[int, int]] = field(default_factory=dict)


def read_counts(wh: Warehouse) -> WarehouseCounts:
    c = WarehouseCounts()
    c.names = {int(t): str(n) for t, n in wh.query(_TENANTS)}
    c.runs = {(int(t), str(m), str(s)): int(n) for t, m, s, n in wh.query(_RUNS)}
    sql, params = _versions_sql()
    for row in wh.query(sql, params):
        c.versions[int(row[0])] = int(row[1])
        c.lateness[int(row[0])] = tuple(int(n) for n in row[2:])
    c.quarantined = unresolved_counts(wh)
    c.discrepancies = open_days(wh)
    c.notices = {int(t): (int(d), int(g)) for t, d, g in wh.query(_NOTICES)}
    c.customer_events = {int(t): (int(d), int(g)) for t, d, g in wh.query(_CUSTOMER_EVENTS)}
    return c


def families(c: WarehouseCounts) -> Iterator[Metric]:
    """The metric families of `c`; a tenant whose row is gone is named by its id."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    def name(tid: int) -> str:
        return c.names.get(tid, str(tid))

    runs = CounterMetricFamily(
        "ordersync_sync_runs", "Pull runs finished, by tenant, mode and outcome", None, ["tenant", "mode", "outcome"]
    )
    running = GaugeMetricFamily("ordersync_sync_runs_running", "Pull runs running now", None, ["tenant", "mode"])
    for (tid, mode, status), n in sorted(c.runs.items()):
        if status == RunStatus.RUNNING:
            running.add_metric([name(tid), mode], n)
        else:
            runs.add_metric([name(tid), mode, status], n)
    yield runs
    yield running
    versions = CounterMetricFamily("ordersync_versions_landed", "Versions landed", None, ["tenant"])
    late = CounterMetricFamily(
        "ordersync_versions_by_lateness",
        "Versions landed, by lateness bucket (event_ingested_at - event_time; observe/lateness.sql's buckets)",
        None,
        ["tenant", "bucket"],
    )
    for tid in sorted(c.versions):
        versions.add_metric([name(tid)], c.versions[tid])
        for bucket, n in zip(BUCKETS, c.lateness[tid], strict=True):
            late.add_metric([name(tid), bucket], n)
    yield versions
    yield late
    for metric, what, gauge in (
        ("ordersync_quarantine_unresolved", "Records waiting in the quarantine", c.quarantined),
        ("ordersync_discrepancies_open", "Days whose latest check against the source is still open", c.discrepancies),
    ):
        level = GaugeMetricFamily(metric, what, None, ["tenant"])
        for tid, n in sorted(gauge.items()):
            level.add_metric([name(tid)], n)
        yield level
    for metric, what, counts in (
        ("ordersync_revision_notice_deliveries", "Revision notice deliveries (per webhook)", c.notices),
        ("ordersync_customer_event_deliveries", "Customer event batch deliveries (per webhook)", c.customer_events),
    ):
        family = CounterMetricFamily(metric, f"{what}, delivered or given up", None, ["tenant", "state"])
        for tid, (delivered, given_up) in sorted(counts.items()):
            family.add_metric([name(tid), DeliveryState.DELIVERED.value], delivered)
            family.add_metric([name(tid), DeliveryState.GIVEN_UP.value], given_up)
        yield family


class WarehouseCollector:
    """A prometheus_client collector reading the warehouse at each collect (each scrape)."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def collect(self) -> Iterator[Metric]:
        yield from families(read_counts(self.wh))

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration: the families are known at scrape time


def render_metrics(wh: Warehouse | None) -> tuple[bytes, str]:
    """The body and content type of GET /metrics on serve: this process's own metrics, then (with
    `wh`) what the warehouse holds, read now. Recording this process's metrics starts here if it
    had not (serve enables it at start)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.registry import CollectorRegistry

    metrics.enable()
    body = metrics.exposition()
    if wh is not None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(cast("Collector", WarehouseCollector(wh)))
        body += generate_latest(registry)
    return body, CONTENT_TYPE_LATEST
