"""One tenant's bad data never stops the others' build. A build that fails is retried on parts of the
tenant list until the failing tenants are found; every other tenant builds, the build names the
failing ones (cdp.build_runs, `ordersync status`), and they build again once their data is fixed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.errors import TransformError
from ordersync.facade import Ordersync
from ordersync.tenants import Tenant
from ordersync.transform import builds, isolation, project
from support.cli import ordersync
from support.revisions import event, new_push_tenant, push

CLOCK_START = datetime(2024, 6, 10, 12, tzinfo=UTC)
AT = CLOCK_START - timedelta(hours=4)

#: A team's model that fails on one tenant's data: its order numbers must be digits. It builds only the
#: tenants the build builds, as every model reading tenant data should.
ORDER_NUMBERS = """
{{ config(materialized='table') }}
select tenant_id, order_id, cast(order_id as bigint) as order_number
from {{ ref('fct_orders') }}
where {{ ordersync.tenant_in_build('tenant_id') }}
"""


# -- finding the failing tenants ------------------------------------------------------------------
class FakeBuilds:
    """Builds that fail whenever they include a tenant of `bad` (or always, when `broken`)."""

    def __init__(self, bad: set[int], broken: bool = False) -> None:
        self.bad, self.broken, self.calls = bad, broken, 0

    def __call__(self, tenants: Mapping[str, list[int]] | None) -> str:
        self.calls += 1
        ids = set(tenants["only"]) if tenants else set(range(100))
        if self.broken or ids & self.bad:
            raise TransformError(f"dbt build failed: tenants {sorted(ids & self.bad)}")
        return f"built {sorted(ids)}"


@pytest.mark.parametrize("bad", [{3}, {0, 7}, {1, 2, 3, 4, 5, 6, 7, 8}], ids=["one", "two", "all"])
def test_the_failing_tenants_are_found_by_halves(bad: set[int]) -> None:
    fake = FakeBuilds(bad)
    found = isolation.isolate(fake, list(range(9)), TransformError("first"))
    assert set(found.failing) == bad
    assert all(f"tenants [{t}]" in found.failing[t] for t in bad)
    if bad == {3}:
        assert found.attempts <= 2 * 4  # about two builds per halving, not one per tenant


def test_a_tenant_left_out_before_is_tried_first() -> None:
    fake = FakeBuilds({5})
    found = isolation.isolate(fake, list(range(9)), TransformError("first"), suspects=[5])
    assert list(found.failing) == [5] and found.attempts == 1  # the others built at once
    # a suspect that builds now is not held: the search goes on among the others
    fake = FakeBuilds({2})
    found = isolation.isolate(fake, list(range(9)), TransformError("first"), suspects=[5])
    assert list(found.failing) == [2]


def test_a_failure_that_is_not_the_datas_fails_the_build() -> None:
    first = TransformError("dbt build failed: the warehouse is gone")
    with pytest.raises(TransformError) as raised:
        isolation.isolate(FakeBuilds(set(), broken=True), [1, 2, 3], first)
    assert raised.value is first


#: A team's data test that fails on one tenant's data (no order above 1,000): it stops everything
#: downstream of fct_orders (revenue_daily too) for the tenants it fails on.
NO_LARGE_ORDERS = """
select * from {{ ref('fct_orders') }}
where {{ ordersync.tenant_in_build('tenant_id') }} and total_value > 1000
"""


# -- on both warehouses ---------------------------------------------------------------------------
@pytest.fixture
def team_app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    team = project.init_project(tmp_path / "team").project_dir
    (team / "models" / "order_numbers.sql").write_text(ORDER_NUMBERS, encoding="utf-8")
    (team / "tests").mkdir(exist_ok=True)
    (team / "tests" / "no_large_orders.sql").write_text(NO_LARGE_ORDERS, encoding="utf-8")
    overrides = {
        "warehouse": {"url": warehouse_url},
        "dbt": {"state_dir": str(tmp_path / "dbt-state"), "project_dir": str(team)},
    }
    with Ordersync(load_settings(overrides=overrides), clock=ManualClock(CLOCK_START)) as app:
        app.init()
        yield app


def fct(app: Ordersync, tenant: Tenant) -> dict[str, Decimal]:
    rows = app.wh.query("SELECT order_id, total_value FROM cdp.fct_orders WHERE tenant_id = ?", (tenant.tenant_id,))
    return {str(r[0]): Decimal(r[1]) for r in rows}


def revenue(app: Ordersync, tenant: Tenant, day: date = AT.date()) -> Decimal | None:
    value = app.wh.scalar(
        "SELECT revenue FROM cdp.revenue_daily WHERE tenant_id = ? AND order_date = ?", (tenant.tenant_id, day)
    )
    return None if value is None else Decimal(value)


def numbers(app: Ordersync) -> set[tuple[int, str]]:
    return {(int(r[0]), str(r[1])) for r in app.wh.query("SELECT tenant_id, order_id FROM analytics.order_numbers")}


@pytest.mark.dbt
def test_a_tenant_whose_data_fails_the_build_is_left_out_and_named(
    team_app: Ordersync, warehouse_url: str, tmp_path: Path
) -> None:
    app = team_app
    good, bad = new_push_tenant(app, "good"), new_push_tenant(app, "bad")
    push(app, good, [event("1001", AT, total="100.00")])
    push(app, bad, [event("B-1", AT, total="5.00")])

    app.build()  # does not raise: the good tenant built
    assert fct(app, good) == {"1001": Decimal("100.00")} and revenue(app, good) == Decimal("100.00")
    assert numbers(app) == {(good.tenant_id, "1001")}
    last = builds.last_build(app.wh)
    assert last is not None and last["status"] == "succeeded"
    [failed] = last["failed_tenants"]
    assert (failed["tenant_id"], failed["tenant"]) == (bad.tenant_id, bad.tenant_name)
    assert "order_numbers" in failed["error"]

    # the next build: the good tenant's new order is current, the bad tenant is still left out
    push(app, good, [event("1002", AT, total="20.00")])
    push(app, bad, [event("2001", AT, total="7.00")])
    app.build()
    assert fct(app, good) == {"1001": Decimal("100.00"), "1002": Decimal("20.00")}
    assert revenue(app, good) == Decimal("120.00")
    assert numbers(app) == {(good.tenant_id, "1001"), (good.tenant_id, "1002")}
    held = {r["tenant"]: r["build_held"] for r in app.status()}
    assert held[good.tenant_name] is None and "order_numbers" in held[bad.tenant_name]["error"]

    app.close()  # DuckDB: one process at a time; the facade opens it again when next used
    status = ordersync(["--warehouse", warehouse_url, "status", "--json"], tmp_path)
    assert status.returncode == 0, status.stderr
    rows = {r["tenant"]: r for r in json.loads(status.stdout)}
    assert rows[bad.tenant_name]["last_build_failed_tenants"] == [bad.tenant_name]
    assert rows[bad.tenant_name]["build_held"]["since"] and rows[good.tenant_name]["build_held"] is None
    text = ordersync(["--warehouse", warehouse_url, "status"], tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"{bad.tenant_name} left out of builds since" in text.stdout, text.stdout

    # the bad version withdrawn, the tenant builds again, with what landed while it was left out
    app.withdraw(bad.tenant_name, "B-1", None, "not an order number", "ana")
    app.build()
    assert builds.last_build(app.wh)["failed_tenants"] == []  # type: ignore[index]
    assert fct(app, bad) == {"2001": Decimal("7.00")} and revenue(app, bad) == Decimal("7.00")
    assert numbers(app) == {(good.tenant_id, "1001"), (good.tenant_id, "1002"), (bad.tenant_id, "2001")}
    assert all(r["build_held"] is None for r in app.status())


@pytest.mark.dbt
def test_a_tenant_failing_a_data_test_gets_its_revenue_once_it_builds_again(team_app: Ordersync) -> None:
    # The failing test skips revenue_daily; the others' revenue is built without the bad tenant, and
    # the bad tenant's days, written to fct_orders while it was left out, are recomputed once it builds.
    app = team_app
    good, bad = new_push_tenant(app, "good"), new_push_tenant(app, "bad")
    push(app, good, [event("101", AT, total="100.00")])
    push(app, bad, [event("201", AT, total="10.00")])
    app.build()
    earlier = AT - timedelta(days=1)
    push(app, good, [event("102", AT, total="50.00")])
    push(app, bad, [event("202", AT, total="5000.00"), event("203", earlier, total="20.00")])

    app.build()
    assert revenue(app, good) == Decimal("150.00")
    assert revenue(app, bad) == Decimal("10.00") and revenue(app, bad, earlier.date()) is None  # left out
    last = builds.last_build(app.wh)
    assert last is not None and [f["tenant"] for f in last["failed_tenants"]] == [bad.tenant_name]
    assert "no_large_orders" in last["failed_tenants"][0]["error"]

    app.withdraw(bad.tenant_name, "202", None, "a test order of 5,000", "ana")
    app.build()
    assert builds.last_build(app.wh)["failed_tenants"] == []  # type: ignore[index]
    assert revenue(app, bad) == Decimal("10.00")
    assert revenue(app, bad, earlier.date()) == Decimal("20.00")  # the day no withdrawal touched
    assert revenue(app, good) == Decimal("150.00")


@pytest.mark.dbt
def test_what_a_left_out_tenant_landed_is_built_once_it_builds_whatever_the_lookback(
    push_app: Ordersync, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tenant's data fails fct_orders itself (simulated: any build including it fails before dbt
    # runs), so its versions are not built while the ledger cursor moves on for the others; days
    # later, past the lookback, they are built from where it was left out.
    import ordersync.transform.build as transform

    app = push_app
    clock.set(CLOCK_START)
    good, bad = new_push_tenant(app, "good"), new_push_tenant(app, "bad")
    real = transform.run_dbt

    def failing_for_bad(*args: Any, **kwargs: Any) -> Any:
        tenants = (kwargs.get("extra_vars") or {}).get("tenants")
        if tenants is None or bad.tenant_id in tenants.get("only", []):
            raise TransformError("dbt build failed: fct_orders error: the bad tenant's data")
        return real(*args, **kwargs)

    monkeypatch.setattr(transform, "run_dbt", failing_for_bad)
    push(app, bad, [event("B-1", CLOCK_START - timedelta(hours=1), total="10.00")])
    push(app, good, [event("A-1", CLOCK_START - timedelta(hours=1), total="1.00")])
    app.build()
    assert fct(app, good) == {"A-1": Decimal("1.00")} and fct(app, bad) == {}

    clock.set(CLOCK_START + timedelta(days=10))  # B-1 is now far outside the 3-day lookback
    push(app, good, [event("A-2", CLOCK_START + timedelta(days=10), total="2.00")])
    app.build()
    assert set(fct(app, good)) == {"A-1", "A-2"} and fct(app, bad) == {}

    monkeypatch.setattr(transform, "run_dbt", real)  # its data builds now
    app.build()
    assert fct(app, bad) == {"B-1": Decimal("10.00")}
    assert revenue(app, bad, (CLOCK_START - timedelta(hours=1)).date()) == Decimal("10.00")
    assert all(r["build_held"] is None for r in app.status())
