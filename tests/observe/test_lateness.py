"""`lateness` on both warehouses: every bucket boundary, the share after the lookback, the budget's
flag (the version still lands and counts), clock skew, legacy rows, the per-source breakdown, the
tenant filter, the window of order dates in the tenant's zone, `status`'s summary and the CLI."""

from __future__ import annotations

import itertools
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from factories import vtex_order_json
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.errors import ConfigError, NotFoundError
from ordersync.facade import Ordersync
from ordersync.land import Lander, ledger
from ordersync.observe.lateness import BUCKETS, tenant_lateness
from ordersync.tenants import Tenant
from ordersync.warehouse import LANDING_COLUMNS
from support.cli import ordersync

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
CLOCK_START = NOW  # the `clock` fixture's start (tests/conftest.py)
DAY = date(2024, 5, 18)
HOUR = 3600
D = 86400
_names = itertools.count(1)
_hashes = itertools.count(1)


@pytest.fixture(scope="module")
def app(shared_url: str, clock: ManualClock) -> Iterator[Ordersync]:
    # the defaults, spelled out: the assertions below depend on them
    settings = load_settings(
        overrides={"warehouse": {"url": shared_url}, "dbt": {"lookback_days": 3}, "sync": {"lateness_budget_days": 7}}
    )
    with Ordersync(settings, clock=clock) as app:
        app.init()
        yield app


@pytest.fixture
def new_tenant(app: Ordersync, clock: ManualClock) -> Callable[..., Tenant]:
    clock.set(NOW)

    def make(timezone: str = "UTC") -> Tenant:
        name = f"shop-{next(_names)}-{uuid.uuid4().hex[:6]}"
        return app.add_tenant(
            name,
            account=None,
            base_url=None,
            app_key_env=None,
            app_token_env=None,
            platform="push",
            timezone=timezone,
        )

    return make


def row(
    tenant: Tenant, late_seconds: float | None, *, day: date = DAY, source: str = "push", order_id: str | None = None
) -> tuple[Any, ...]:
    """A landing row for `day` that landed `late_seconds` after its event (None: a legacy row with
    no event_ingested_at)."""
    event_time = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    n = next(_hashes)
    values: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "order_id": order_id or f"o-{n}",
        "event_time": event_time,
        "event_ingested_at": None if late_seconds is None else event_time + timedelta(seconds=late_seconds),
        "order_date": day,
        "creation_date": event_time,
        "status": "invoiced",
        "total_value": Decimal("10.00"),
        "currency_code": "BRL",
        "sales_channel": "1",
        "customer_id": "c",
        "customer_email": "c@example.com",
        "customer_name": "C",
        "payload": "{}",
        "payload_hash": f"h{n}",
        "source": source,
        "run_id": None,
    }
    return tuple(values.get(c) for c in LANDING_COLUMNS)


def land(app: Ordersync, rows: list[tuple[Any, ...]]) -> None:
    """Rows landed as the product lands them: in one batch of the landing ledger."""
    with app.wh.transaction():
        batch_id = ledger.new_batch_id(app.wh)
        assert app.wh.insert_landing(rows, batch_id=batch_id) == len(rows)
        ledger.record_batch(app.wh, batch_id, rows[0][LANDING_COLUMNS.index("tenant_id")], "push", None, len(rows), NOW)


def one_day(app: Ordersync, tenant: Tenant, **kw: Any) -> dict[str, Any]:
    rows = app.lateness(tenant.tenant_name, **kw)
    assert len(rows) == 1, rows
    return rows[0]


def test_each_bucket_holds_its_upper_bound(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    t = new_tenant()
    edges = [0, HOUR, HOUR + 1, 6 * HOUR, 6 * HOUR + 1, D, D + 1, 3 * D, 3 * D + 1, 7 * D, 7 * D + 1]
    land(app, [row(t, s) for s in edges])
    r = one_day(app, t)
    assert r["tenant"] == t.tenant_name and r["date"] == DAY.isoformat()
    assert r["versions"] == len(edges)
    assert r["buckets"] == {"upto_1h": 2, "1h_6h": 2, "6h_24h": 2, "1d_3d": 2, "3d_7d": 2, "over_7d": 1}
    assert sum(r["buckets"].values()) == r["versions"]
    # after the 3-day lookback: strictly more than 3 days late
    assert r["after_lookback"] == 3
    assert r["after_lookback_share"] == round(3 / 11, 4)
    # over the 7-day budget: strictly more than 7 days late
    assert r["over_budget"] == 1
    assert r["clock_skew"] == 0 and r["unstamped"] == 0
    assert r["max_lateness_seconds"] == 7 * D + 1
    assert (r["lookback_days"], r["lateness_budget_days"]) == (3, 7)


def test_after_lookback_and_budget_follow_their_settings(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    t = new_tenant()
    land(app, [row(t, s) for s in (HOUR, D, D + 1, 2 * D, 2 * D + 1)])
    (r,) = tenant_lateness(app.wh, [t], NOW, days=30, lookback_days=1, budget_days=2)
    assert (r["after_lookback"], r["over_budget"]) == (3, 1)
    assert r["after_lookback_share"] == 0.6
    (r,) = tenant_lateness(app.wh, [t], NOW, days=30, lookback_days=0, budget_days=0.5)
    assert (r["after_lookback"], r["over_budget"]) == (5, 4)


def test_a_version_over_the_budget_lands_and_is_flagged(
    app: Ordersync, new_tenant: Callable[..., Tenant], clock: ManualClock
) -> None:
    """Through the real landing path: nothing is dropped for being late, the report flags it."""
    t = new_tenant()
    changed = NOW - timedelta(days=10)
    created = (changed - timedelta(hours=2)).isoformat()
    late = vtex_order_json("late-1", creationDate=created, lastChange=changed.isoformat())
    fresh = vtex_order_json("fresh-1", creationDate=created, lastChange=(NOW - timedelta(minutes=5)).isoformat())
    result = Lander(app.wh, clock).land_raw(t.tenant_id, t.tz, [late, fresh], "push", None)
    assert result.landed == 2
    r = one_day(app, t)
    assert r["date"] == changed.date().isoformat()
    assert (r["versions"], r["over_budget"], r["after_lookback"]) == (2, 1, 1)
    assert r["buckets"]["over_7d"] == 1 and r["buckets"]["upto_1h"] == 1
    assert r["max_lateness_seconds"] == pytest.approx(10 * D)
    (status,) = [s for s in app.status() if s["tenant"] == t.tenant_name]
    assert status["late_versions_over_budget"] == 1


def test_clock_skew_is_in_the_first_bucket_and_counted(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    t = new_tenant()
    land(app, [row(t, -2 * HOUR), row(t, -1), row(t, 0), row(t, 30)])
    r = one_day(app, t)
    assert r["buckets"]["upto_1h"] == 4
    assert r["clock_skew"] == 2
    assert (r["after_lookback"], r["over_budget"]) == (0, 0)


def test_a_legacy_row_without_processing_time_is_on_time(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    t = new_tenant()
    land(app, [row(t, None), row(t, 4 * D)])
    r = one_day(app, t)
    assert (r["versions"], r["unstamped"], r["buckets"]["upto_1h"], r["after_lookback"]) == (2, 1, 1, 1)
    assert r["after_lookback_share"] == 0.5


def test_each_source_is_broken_down(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    t = new_tenant()
    land(app, [row(t, 60, source="pull"), row(t, 4 * D, source="pull"), row(t, 8 * D, source="file")])
    r = one_day(app, t)
    assert set(r["by_source"]) == {"pull", "file"}
    pull, file = r["by_source"]["pull"], r["by_source"]["file"]
    assert (pull["versions"], pull["after_lookback"], pull["over_budget"]) == (2, 1, 0)
    assert pull["after_lookback_share"] == 0.5
    assert (file["versions"], file["buckets"]["over_7d"], file["over_budget"]) == (1, 1, 1)
    for key in ("versions", "after_lookback", "over_budget", "clock_skew"):
        assert r[key] == pull[key] + file[key]
    for b in BUCKETS:
        assert r["buckets"][b] == pull["buckets"][b] + file["buckets"][b]


def test_one_tenant_only_when_asked(app: Ordersync, new_tenant: Callable[..., Tenant]) -> None:
    a, b = new_tenant(), new_tenant()
    land(app, [row(a, 60), row(a, 5 * D), row(b, 9 * D)])
    assert [(r["tenant"], r["versions"], r["over_budget"]) for r in app.lateness(a.tenant_name)] == [
        (a.tenant_name, 2, 0)
    ]
    assert [(r["tenant"], r["versions"]) for r in app.lateness(b.tenant_name)] == [(b.tenant_name, 1)]
    everyone = {r["tenant"] for r in app.lateness()}
    assert {a.tenant_name, b.tenant_name} <= everyone
    with pytest.raises(NotFoundError):
        app.lateness("nobody")


def test_the_window_is_the_last_order_dates_in_the_tenants_zone(
    app: Ordersync, new_tenant: Callable[..., Tenant], clock: ManualClock
) -> None:
    t = new_tenant("America/Sao_Paulo")
    # 01:00 UTC on 10 May is still 9 May in São Paulo (UTC-3)
    clock.set(datetime(2024, 5, 10, 1, 0, tzinfo=UTC))
    days = [date(2024, 5, 7), date(2024, 5, 8), date(2024, 5, 9), date(2024, 5, 10)]
    land(app, [row(t, 60, day=d) for d in days])
    assert [r["date"] for r in app.lateness(t.tenant_name, days=2)] == ["2024-05-08", "2024-05-09", "2024-05-10"]
    assert [r["date"] for r in app.lateness(t.tenant_name, days=1)] == ["2024-05-09", "2024-05-10"]
    assert len(app.lateness(t.tenant_name, days=30)) == 4
    with pytest.raises(ConfigError):
        app.lateness(t.tenant_name, days=0)


def test_status_counts_only_the_last_30_order_dates_over_budget(
    app: Ordersync, new_tenant: Callable[..., Tenant]
) -> None:
    t = new_tenant()
    old = NOW.date() - timedelta(days=40)
    land(app, [row(t, 8 * D), row(t, 8 * D), row(t, 7 * D), row(t, 8 * D, day=old)])
    (status,) = [s for s in app.status() if s["tenant"] == t.tenant_name]
    assert status["late_versions_over_budget"] == 2


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, env={"ORDERSYNC__CLOCK": NOW.isoformat()}, columns=200)


def test_the_command_prints_json_and_a_table(tmp_path: Path) -> None:
    settings = load_settings(overrides={"warehouse": {"url": str(tmp_path / "ordersync.duckdb")}})
    with Ordersync(settings, clock=ManualClock(NOW)) as local:
        local.init()
        t = local.add_tenant(
            "mobileapp",
            account=None,
            base_url=None,
            app_key_env=None,
            app_token_env=None,
            platform="push",
            timezone="UTC",
        )
        land(local, [row(t, 60), row(t, 2 * HOUR), row(t, 4 * D), row(t, 8 * D, source="file"), row(t, -HOUR)])
    done = run_cli(["lateness", "--json", "--tenant", "mobileapp", "--days", "7"], tmp_path)
    assert done.returncode == 0, done.stderr
    (r,) = json.loads(done.stdout)
    assert r["tenant"] == "mobileapp" and r["date"] == DAY.isoformat()
    assert r["versions"] == 5
    assert r["buckets"] == {"upto_1h": 2, "1h_6h": 1, "6h_24h": 0, "1d_3d": 0, "3d_7d": 1, "over_7d": 1}
    assert (r["after_lookback"], r["after_lookback_share"], r["over_budget"], r["clock_skew"]) == (2, 0.4, 1, 1)
    assert r["by_source"]["file"]["over_budget"] == 1 and r["by_source"]["push"]["versions"] == 4

    table = run_cli(["lateness"], tmp_path)
    assert table.returncode == 0, table.stderr
    for header in ("versions", "≤1h", "1-6h", "3-7d", ">7d", "after lookback %", "over budget"):
        assert header in table.stdout
    assert " 40.0 " in table.stdout
    assert "source's clock ahead" in table.stdout
