"""The tenant's `customers` lease, on both warehouses: a run renews it while it runs (a full
recompute of a large tenant outlasts its time to live), and a run whose lease was taken over
meanwhile writes nothing, its failure included. Builds are stood in for (customers/standins.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from customers.standins import NOW, standin_app, write_orders
from ordersync.clock import ManualClock
from ordersync.coordination.leases import Lease, LeaseKeeper, holder_name
from ordersync.customers import step as step_module
from ordersync.customers.desk import CUSTOMERS
from ordersync.customers.step import RunKind
from ordersync.errors import LeaseLostError
from ordersync.facade import Ordersync
from ordersync.outcomes import RunStatus
from support.processes import wait_for

#: Short enough that a renewal comes within a moment, long enough for a loaded machine's thread.
TTL = 1.5
WRITTEN = ("customer_identifiers", "customer_orders", "customer_profiles", "customer_rfm", "customer_journey")
ORDER = {"status": "invoiced", "value": "50.00", "currency": "BRL", "document": None, "withdrawn": False}


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    with standin_app(warehouse_url, ManualClock(NOW), sync={"lease_seconds": TTL}) as app:
        write_orders(
            app,
            [
                {**ORDER, "order": 1, "days_ago": 30, "customer_id": "u-1", "email": "ana@example.com"},
                {**ORDER, "order": 2, "days_ago": 10, "customer_id": None, "email": "ANA@example.com"},
                {**ORDER, "order": 3, "days_ago": 5, "customer_id": "u-2", "email": None},
            ],
            NOW,
        )
        yield app


def _lease_until(app: Ordersync) -> Any:
    return app.wh.scalar("SELECT lease_until FROM cdp.leases WHERE stream = ?", (CUSTOMERS,))


def _counts(app: Ordersync) -> dict[str, int]:
    tables = (*WRITTEN, "customer_runs", "customer_events", "customer_state")
    return {t: int(app.wh.scalar(f"SELECT count(*) FROM cdp.{t}")) for t in tables}


def test_a_run_renews_its_lease_and_one_taken_over_writes_nothing(
    app: Ordersync, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = app.tenants.get("shop")
    real_link = step_module.link
    seen = app.wh.fork()  # the run's own connection is inside its transaction
    successor = LeaseKeeper(app.wh.fork(), holder_name("successor"), ttl_seconds=60)
    try:
        # 1. In the middle of a run (its orders linked, nothing committed), its lease is renewed.
        first_until: list[Any] = []

        def link_then_wait_for_a_renewal(*args: Any, **kwargs: Any) -> Any:
            linked = real_link(*args, **kwargs)
            first_until.append(seen.scalar("SELECT lease_until FROM cdp.leases WHERE stream = ?", (CUSTOMERS,)))
            wait_for(
                lambda: (
                    seen.scalar("SELECT lease_until FROM cdp.leases WHERE stream = ?", (CUSTOMERS,)) > first_until[0]
                ),
                "the run's lease to be renewed",
                timeout=30,
            )
            return linked

        monkeypatch.setattr(step_module, "link", link_then_wait_for_a_renewal)
        run = app.customers.run(shop, RunKind.STEP)
        assert run.status is RunStatus.SUCCEEDED and run.customers == 2
        assert all(n > 0 for n in _counts(app).values()), _counts(app)

        # 2. A run stalls past its lease and another process takes the tenant over: the run stops
        # at its next check, and nothing of it is kept.
        later = NOW + timedelta(minutes=1)
        write_orders(app, [{**ORDER, "order": 4, "days_ago": 1, "customer_id": "u-3", "email": None}], later)
        before = _counts(app)
        taken: list[Lease | None] = []

        def link_then_lose_the_lease(*args: Any, **kwargs: Any) -> Any:
            linked = real_link(*args, **kwargs)
            with seen.transaction():
                seen.execute(
                    f"UPDATE cdp.leases SET lease_until = {seen.now_sql} - INTERVAL '1 second' WHERE stream = ?",
                    (CUSTOMERS,),
                )
            taken.append(successor.acquire(shop.tenant_id, CUSTOMERS))
            assert taken[0] is not None
            return linked

        monkeypatch.setattr(step_module, "link", link_then_lose_the_lease)
        with pytest.raises(LeaseLostError):
            app.customers.run(shop, RunKind.STEP)
        assert taken, "the run reached its orders' linking"
        assert _counts(app) == before, "the run's links, scores, state and run log were rolled back"
        assert successor.owner(shop.tenant_id, CUSTOMERS) == successor.holder, "the lease stays the successor's"
    finally:
        seen.close()
        successor.wh.close()
