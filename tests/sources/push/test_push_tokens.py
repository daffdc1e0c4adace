"""Push tokens: a disabled tenant's tokens are refused, and a token's last use is kept to the minute
(a burst of pushes writes it once). Both warehouses."""

from __future__ import annotations

from datetime import datetime, timedelta

from ordersync.clock import ManualClock
from ordersync.sources.push.receiver import PushReceiver
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.tokens import TokenStore
from ordersync.warehouse import Warehouse


def push_tenant(wh: Warehouse, clock: ManualClock, name: str = "shop") -> Tenant:
    return TenantStore(wh).add(
        name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )


def last_used(wh: Warehouse, token_id: str) -> datetime | None:
    [info] = [t for t in TokenStore(wh).list() if t.token_id == token_id]
    assert info.public()["last_used_at"] == (info.last_used_at.isoformat() if info.last_used_at else None)
    return info.last_used_at


def test_a_disabled_tenants_tokens_are_refused_until_it_is_enabled(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant, other = push_tenant(warehouse, clock), push_tenant(warehouse, clock, "other")
    tokens = TokenStore(warehouse)
    _, token = tokens.create(tenant.tenant_id, "app", clock.now())
    _, other_token = tokens.create(other.tenant_id, "app", clock.now())
    receiver = PushReceiver(warehouse, clock)
    found = receiver.tenant_for_token(token)
    assert found is not None and found.tenant_id == tenant.tenant_id
    TenantStore(warehouse).set_enabled("shop", False)
    assert receiver.tenant_for_token(token) is None
    assert tokens.tenant_of(token) is None
    assert tokens.tenant_of(other_token) == other.tenant_id  # the other tenant pushes on
    TenantStore(warehouse).set_enabled("shop", True)
    assert tokens.tenant_of(token) == tenant.tenant_id
    warehouse.execute("UPDATE cdp.tenants SET is_active = FALSE WHERE tenant_id = ?", (tenant.tenant_id,))
    assert tokens.tenant_of(token) is None


def test_last_used_at_is_kept_at_most_once_a_minute(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    tokens = TokenStore(warehouse)
    token_id, token = tokens.create(tenant.tenant_id, "app", clock.now())
    tokens.create(tenant.tenant_id, "spare", clock.now())
    assert last_used(warehouse, token_id) is None
    receiver = PushReceiver(warehouse, clock)
    first = clock.now()
    for _ in range(5):  # a burst
        assert receiver.tenant_for_token(token) is not None
        clock.advance(timedelta(seconds=10))
    assert last_used(warehouse, token_id) == first
    clock.advance(timedelta(seconds=11))  # 61 s after the first use
    assert receiver.tenant_for_token(token) is not None
    assert last_used(warehouse, token_id) == clock.now()
    assert [t.last_used_at for t in tokens.list() if t.label == "spare"] == [None]
    assert receiver.tenant_for_token("ost_unknown") is None


def test_a_refused_token_is_not_marked_used(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = push_tenant(warehouse, clock)
    tokens = TokenStore(warehouse)
    token_id, token = tokens.create(tenant.tenant_id, None, clock.now())
    tokens.revoke(token_id, clock.now())
    assert PushReceiver(warehouse, clock).tenant_for_token(token) is None
    assert last_used(warehouse, token_id) is None
