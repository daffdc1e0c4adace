"""Withdrawing a landed version (`ordersync quarantine add`), on both warehouses: the next build falls
back to the order's previous version or drops it, revenue follows, the ledger keeps every version,
and releasing the withdrawal brings it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersync.errors import ConfigError, NotFoundError, RefusedError
from ordersync.facade import Ordersync
from ordersync.tenants import Tenant
from support.revisions import event, new_push_tenant, push

pytestmark = pytest.mark.dbt

CLOCK_START = datetime(2024, 6, 10, 12, tzinfo=UTC)
AT = CLOCK_START - timedelta(hours=5)


def fct(app: Ordersync, tenant: Tenant) -> dict[str, Decimal]:
    rows = app.wh.query(
        "SELECT order_id, total_value FROM cdp.fct_orders WHERE tenant_id = ? ORDER BY order_id", (tenant.tenant_id,)
    )
    return {str(r[0]): Decimal(r[1]) for r in rows}


def revenue(app: Ordersync, tenant: Tenant) -> tuple[int, Decimal]:
    row = app.wh.query_one(
        "SELECT orders, revenue FROM cdp.revenue_daily WHERE tenant_id = ? AND order_date = ?",
        (tenant.tenant_id, AT.date()),
    )
    assert row is not None
    return int(row[0]), Decimal(row[1])


def hash_of(app: Ordersync, tenant: Tenant, order_id: str, total: str) -> str:
    return str(
        app.wh.scalar(
            "SELECT payload_hash FROM cdp.orders_landing WHERE tenant_id = ? AND order_id = ? AND total_value = ?",
            (tenant.tenant_id, order_id, Decimal(total)),
        )
    )


def test_a_withdrawn_version_leaves_the_models_and_comes_back_when_released(push_app: Ordersync) -> None:
    app = push_app
    tenant, other = new_push_tenant(app), new_push_tenant(app)
    push(app, tenant, [event("A", AT, total="100.00"), event("B", AT, total="50.00")])
    push(app, tenant, [event("A", AT + timedelta(minutes=5), total="900000.00")])  # the bad version, newer
    push(app, other, [event("A", AT, total="7.00")])
    app.build()
    assert fct(app, tenant) == {"A": Decimal("900000.00"), "B": Decimal("50.00")}

    bad = app.withdraw(tenant.tenant_name, "A", hash_of(app, tenant, "A", "900000.00"), "typo in the app", "ana")
    gone = app.withdraw(tenant.tenant_name, "B", None, "test order", "ana")
    assert (bad["withdrawn_by"], bad["reason"], bad["released"]) == ("ana", "typo in the app", False)
    app.build()
    # A falls back to its previous version, although older than the one built; B is gone
    assert fct(app, tenant) == {"A": Decimal("100.00")}
    assert revenue(app, tenant) == (1, Decimal("100.00"))
    assert fct(app, other) == {"A": Decimal("7.00")}  # another tenant's order of the same id is untouched
    # the ledger keeps every version
    assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing WHERE tenant_id = ?", (tenant.tenant_id,)) == 3
    # `ordersync verify` agrees: the models hold the latest version still standing
    report = app.verify(tenant=tenant.tenant_name, checks=["latest_versions", "revenue_daily"])
    assert report.ok, report.as_dict()
    app.build()  # applied once: a second build changes nothing
    assert fct(app, tenant) == {"A": Decimal("100.00")}

    app.release_withdrawal(gone["withdrawal_id"], "it was a real order", "bo")
    app.build()
    assert fct(app, tenant) == {"A": Decimal("100.00"), "B": Decimal("50.00")}
    assert revenue(app, tenant) == (2, Decimal("150.00"))
    app.release_withdrawal(bad["withdrawal_id"], "confirmed by the store", "bo", tenant=tenant.tenant_name)
    app.build()
    assert fct(app, tenant) == {"A": Decimal("900000.00"), "B": Decimal("50.00")}
    assert revenue(app, tenant) == (2, Decimal("900050.00"))

    listed = app.list_withdrawals(tenant.tenant_name, include_released=True)
    assert [(w["order_id"], w["released_by"], w["release_reason"]) for w in listed] == [
        ("A", "bo", "confirmed by the store"),
        ("B", "bo", "it was a real order"),
    ]
    assert app.list_withdrawals(tenant.tenant_name) == []


def test_a_withdrawal_names_a_landed_version_and_says_who_and_why(push_app: Ordersync) -> None:
    app = push_app
    tenant = new_push_tenant(app)
    push(app, tenant, [event("A", AT)])
    with pytest.raises(NotFoundError, match="no landed order 'Z'"):
        app.withdraw(tenant.tenant_name, "Z", None, "why", "ana")
    with pytest.raises(NotFoundError, match="with version 'nope'"):
        app.withdraw(tenant.tenant_name, "A", "nope", "why", "ana")
    with pytest.raises(ConfigError, match="--reason is empty"):
        app.withdraw(tenant.tenant_name, "A", None, "  ", "ana")
    w = app.withdraw(tenant.tenant_name, "A", None, "why", "ana")
    with pytest.raises(RefusedError, match=f"already withdrawn \\(withdrawal {w['withdrawal_id']}\\)"):
        app.withdraw(tenant.tenant_name, "A", None, "again", "ana")
    app.release_withdrawal(w["withdrawal_id"], "ok", "bo")
    with pytest.raises(RefusedError, match="already released"):
        app.release_withdrawal(w["withdrawal_id"], "ok", "bo")
    with pytest.raises(NotFoundError, match="no withdrawal 999999"):
        app.release_withdrawal(999999, "ok", "bo")
