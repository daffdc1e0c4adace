"""Change capture recorded and read back (observe/capture.py), and the warehouse's metrics as serve
exposes them (observe/warehouse_metrics.py), on both warehouses: the run counters match
cdp.sync_runs, the lateness buckets match `ordersync lateness`, and the exposition parses."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from factories import vtex_order_json
from ordersync.clock import ManualClock
from ordersync.land import Lander, ledger
from ordersync.observe.capture import capture_health, fleet_hours
from ordersync.observe.lateness import BUCKETS, tenant_lateness
from ordersync.observe.warehouse_metrics import render_metrics
from ordersync.outcomes import RoundStatus, RunStatus
from ordersync.sources.vtex import capture_log
from ordersync.sources.vtex.hook import Inbox, Notification
from ordersync.sync import runs
from ordersync.sync.runs import RunCounters
from ordersync.tenants import Tenant, TenantStore
from ordersync.warehouse import Warehouse

T10 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def tenants(wh: Warehouse, *names: str) -> list[Tenant]:
    store = TenantStore(wh)
    return [
        store.add(
            n,
            platform="vtex",
            account=n,
            base_url=f"http://127.0.0.1:1/{n}",
            app_key_env="K",
            app_token_env="T",
            now=T10,
        )
        for n in names
    ]


def run(wh: Warehouse, tenant: Tenant, mode: str, status: RunStatus, started: datetime, **counts: int) -> None:
    run_id = f"{tenant.tenant_name}-{mode}-{started.isoformat()}-{status}"
    runs.start(wh, run_id, tenant.tenant_id, mode, started, "w")
    if status is not RunStatus.RUNNING:
        runs.finish(wh, run_id, status, started + timedelta(minutes=1), RunCounters(**counts))


def test_capture_health_and_the_fleet_hours(warehouse: Warehouse) -> None:
    wh = warehouse
    feed, hook = tenants(wh, "feedshop", "hookshop")
    at = T10 + timedelta(minutes=5)
    capture_log.record(
        wh,
        capture_log.CaptureRound(
            feed.tenant_id,
            "feed",
            at,
            RoundStatus.POLLED,
            events=10,
            fetched=8,
            landed=8,
            requests=12,
            throttled=1,
            lag_seconds=42.0,
        ),
    )
    late = T10 + timedelta(minutes=40)  # fails before reading: the lag stays as last known
    capture_log.record(
        wh, capture_log.CaptureRound(feed.tenant_id, "feed", late, RoundStatus.FAILED, "boom", requests=2)
    )
    notes = [Notification(hook.tenant_id, f"o{i}", "invoiced", "{}") for i in range(3)]
    Inbox(wh).record(notes, T10 + timedelta(hours=1, minutes=10))
    capture_log.record(
        wh,
        capture_log.CaptureRound(
            hook.tenant_id, "hook", T10 + timedelta(hours=1, minutes=15), RoundStatus.POLLED, events=3, requests=3
        ),
    )
    wh.execute("UPDATE cdp.hook_inbox SET processed_at = ? WHERE order_id = 'o0'", (T10 + timedelta(hours=1),))
    run(
        wh,
        feed,
        "incremental",
        RunStatus.SUCCEEDED,
        T10 + timedelta(minutes=30),
        list_calls=5,
        get_calls=7,
        retries=2,
        throttled=1,
    )
    with wh.transaction():
        ledger.record_batch(wh, ledger.new_batch_id(wh), feed.tenant_id, "feed", None, 8, at)
        ledger.record_batch(wh, ledger.new_batch_id(wh), hook.tenant_id, "hook", None, 3, T10 + timedelta(hours=1))

    health = {h.tenant: h for h in capture_health(wh, [feed, hook])}
    f, h = health["feedshop"], health["hookshop"]
    assert (f.feed_lag_seconds, f.feed_last_round_at, f.feed_last_status, f.feed_last_error) == (
        42.0,
        late,
        "failed",
        "boom",
    )
    assert f.feed_last_ok_at == at and f.hook_last_notification_at is None and f.hook_waiting == 0
    assert h.hook_last_notification_at == T10 + timedelta(hours=1, minutes=10) and h.hook_waiting == 2
    assert h.hook_last_status == "polled" and h.feed_last_round_at is None and h.feed_lag_seconds is None
    assert h.as_dict()["hook_last_notification_at"] == "2026-01-01T11:10:00+00:00"

    hours = fleet_hours(wh, T10 + timedelta(minutes=59), T10 + timedelta(hours=1, minutes=1))
    assert [(x.hour, x.versions_landed, x.store_requests, x.throttled) for x in hours] == [
        (T10, 8, 12 + 2 + (5 + 7 + 2), 1 + 1),
        (T10 + timedelta(hours=1), 3, 3, 0),
    ]
    assert fleet_hours(wh, T10 - timedelta(hours=2), T10 - timedelta(hours=2))[0].store_requests == 0


def metric_samples(body: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_the_warehouse_metrics_match_the_run_log_and_the_lateness_report(warehouse: Warehouse) -> None:
    wh = warehouse
    a, b = tenants(wh, "alpha", "beta")
    for i, (mode, status) in enumerate(
        [("incremental", RunStatus.SUCCEEDED)] * 3
        + [
            ("incremental", RunStatus.FAILED),
            ("full", RunStatus.SUCCEEDED),
            ("historical", RunStatus.ABANDONED),
            ("incremental", RunStatus.RUNNING),
        ]
    ):
        run(wh, a if i % 2 else b, mode, status, T10 + timedelta(minutes=i))
    clock = ManualClock(T10)
    event = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    for i, late in enumerate([timedelta(minutes=5), timedelta(hours=3), timedelta(days=2), timedelta(days=9)]):
        clock.set(event + late)
        body = vtex_order_json(f"v{i}-01", lastChange=event.isoformat(), creationDate="2026-01-01T07:00:00+00:00")
        Lander(wh, clock).land_raw(a.tenant_id, a.tz, [body], "pull", None)
    wh.execute(
        "INSERT INTO cdp.quarantine (quarantine_id, tenant_id, source, reason, raw, quarantined_at) "
        "VALUES (nextval('cdp.quarantine_id_seq'), ?, 'push', 'bad', 'x', ?)",
        (b.tenant_id, T10),
    )

    body, content_type = render_metrics(wh)
    assert content_type.startswith("text/plain")
    got = metric_samples(body)

    expected: Counter[tuple[str, str, str]] = Counter()
    names = {a.tenant_id: "alpha", b.tenant_id: "beta"}
    for tid, mode, status, n in wh.query(
        "SELECT tenant_id, mode, status, count(*) FROM cdp.sync_runs GROUP BY 1, 2, 3"
    ):
        if status != "running":
            expected[(names[tid], mode, status)] = n
    exposed = {(lab["tenant"], lab["mode"], lab["outcome"]): v for lab, v in got["ordersync_sync_runs_total"]}
    assert exposed == expected and sum(expected.values()) == 6
    assert got["ordersync_sync_runs_running"] == [({"tenant": "beta", "mode": "incremental"}, 1.0)]

    assert got["ordersync_versions_landed_total"] == [({"tenant": "alpha"}, 4.0)]
    report = tenant_lateness(wh, [a], clock.now(), days=30, lookback_days=3, budget_days=7)
    by_bucket = {bucket: sum(day["buckets"][bucket] for day in report) for bucket in BUCKETS}
    exposed_buckets = {lab["bucket"]: v for lab, v in got["ordersync_versions_by_lateness_total"]}
    assert exposed_buckets == by_bucket and sum(by_bucket.values()) == 4
    assert by_bucket["upto_1h"] == by_bucket["1h_6h"] == by_bucket["1d_3d"] == by_bucket["over_7d"] == 1
    assert got["ordersync_quarantine_unresolved"] == [({"tenant": "beta"}, 1.0)]
