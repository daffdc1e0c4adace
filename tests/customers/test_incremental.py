"""Incremental equals full: orders arriving in random batches (new orders, late versions, late
cancellations, identifiers that merge customers, orders withdrawn) with a step after each, end where
one full recompute at the same date and parameters finds nothing to change, and where a warehouse
that saw every order at once in a single step holds the same customers with the same profiles.

The builds are stood in for (customers/standins.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.standins import NOW, standin_app, write_orders
from ordersync.clock import ManualClock
from ordersync.customers.step import RunKind
from ordersync.facade import Ordersync
from ordersync.outcomes import RunStatus

IDS = [None, "u-1", "u-2", "u-3"]
EMAILS = [None, "ana@example.com", "ANA@example.com", "bia@example.com", "cai@example.com"]
DOCS = [None, "52998224725", "11144477735"]

version = st.fixed_dictionaries(
    {
        "order": st.integers(0, 9),
        "days_ago": st.integers(0, 400),
        "status": st.sampled_from(["invoiced", "invoiced", "payment-pending", "canceled"]),
        "value": st.sampled_from(["0.00", "19.90", "50.00", "120.00", "999.99"]),
        "currency": st.sampled_from(["BRL", "BRL", "BRL", "USD"]),
        "customer_id": st.sampled_from(IDS),
        "email": st.sampled_from(EMAILS),
        "document": st.sampled_from(DOCS),
        "withdrawn": st.sampled_from([False, False, False, True]),
    }
)
batches = st.lists(st.lists(version, min_size=1, max_size=6), min_size=1, max_size=4)


def _snapshot(app: Ordersync) -> dict[str, Any]:
    q = app.wh.query
    return {
        "orders": sorted(q("SELECT order_id, customer_key FROM cdp.customer_orders")),
        "profiles": sorted(
            q(
                "SELECT customer_key, orders, purchases, purchase_days, net_revenue, "
                "average_order_value, currency_code, last_status FROM cdp.customer_profiles"
            )
        ),
        "rfm": sorted(
            q(
                "SELECT customer_key, recency_days, frequency, monetary, r_score, f_score, m_score, segment "
                "FROM cdp.customer_rfm"
            )
        ),
        "stages": sorted(q("SELECT customer_key, stage FROM cdp.customer_journey")),
    }


@pytest.fixture
def duck_url(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "incremental.duckdb")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches)
def test_steps_after_random_batches_end_where_a_full_recompute_finds_nothing(
    batches: list[list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("inc")
    clock = ManualClock(NOW)
    with standin_app(str(base / "steps.duckdb"), clock) as app:
        shop = app.tenants.get("shop")
        for n, batch in enumerate(batches):
            write_orders(app, batch, NOW + timedelta(minutes=n + 1))
            app.customers.run(shop, RunKind.STEP)
        stepped = _snapshot(app)
        full = app.customers.run(shop, RunKind.FULL)
        assert full.status is RunStatus.SUCCEEDED and full.findings == {"changed_rows": 0, "ok": True}, full
        assert _snapshot(app) == stepped
    # every order at once, one step: the same customers, with the same orders, purchases and purchase
    # days (money and scores follow the period's frozen parameters, main currency included, so they
    # are compared above, under the same ones)
    with standin_app(str(base / "once.duckdb"), clock) as once:
        for n, batch in enumerate(batches):
            write_orders(once, batch, NOW + timedelta(minutes=n + 1))
        once.customers.run(once.tenants.get("shop"), RunKind.STEP)
        grouped = _snapshot(once)
    assert _groups(grouped) == _groups(stepped)
    assert _values(grouped) == _values(stepped)


def _groups(snap: dict[str, Any]) -> list[list[str]]:
    by_key: dict[str, list[str]] = {}
    for order_id, key in snap["orders"]:
        by_key.setdefault(key, []).append(order_id)
    return sorted(sorted(v) for v in by_key.values())


def _values(snap: dict[str, Any]) -> list[Any]:
    """Each customer's counts and last status, named by their first order rather than their key."""
    name = {}
    for order_id, key in snap["orders"]:
        name[key] = min(order_id, name.get(key, order_id))
    out = []
    out.append(sorted((name.get(r[0], r[0]), r[1], r[2], r[3], r[7]) for r in snap["profiles"]))
    return out


def test_the_sweep_moves_the_date_and_finds_the_clocks_changes(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    with standin_app(str(tmp_path / "sweep.duckdb"), clock) as app:
        shop = app.tenants.get("shop")
        bought = {
            "status": "invoiced",
            "value": "50.00",
            "currency": "BRL",
            "customer_id": "u-1",
            "email": None,
            "document": None,
            "withdrawn": False,
        }
        write_orders(app, [{**bought, "order": 1, "days_ago": 100}, {**bought, "order": 2, "days_ago": 80}], NOW)
        app.customers.run(shop, RunKind.STEP)
        assert app.wh.query("SELECT stage FROM cdp.customer_journey") == [("active",)]
        clock.advance(timedelta(days=30))  # 110 days since the purchase: past the 90 days of a small tenant
        step = app.customers.run(shop, RunKind.STEP)
        assert step.status is RunStatus.SKIPPED  # nothing landed: a step changes nothing
        assert RunKind.SWEEP in app.customers.step().due(shop)
        sweep = app.customers.run(shop, RunKind.SWEEP)
        assert sweep.scoring_date == date(2026, 12, 31)
        assert app.wh.query("SELECT stage, previous_stage FROM cdp.customer_journey") == [("at_risk", "active")]
        kinds = [e["to"] for e in app.customer_events("shop") if not e["initial"]]
        assert kinds == ["at_risk"] or "at_risk" in kinds
