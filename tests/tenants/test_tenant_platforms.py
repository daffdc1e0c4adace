"""tenants.platforms and tenants.tokens: what a platform offers, and a token kept only as its digest."""

from __future__ import annotations

import pytest

from ordersync.clock import ManualClock
from ordersync.errors import ConfigError
from ordersync.secrets import digest
from ordersync.tenants import PLATFORMS, TenantStore, TokenStore, platform
from ordersync.tenants import platforms as p
from ordersync.warehouse import Warehouse


def test_platforms_say_what_they_offer() -> None:
    assert platform("vtex").pulls and set(platform("vtex").captures) == {"feed", "hook"}
    assert not platform("push").pulls and platform("push").captures == ()
    assert set(PLATFORMS) == {"vtex", "push"}
    with pytest.raises(ConfigError, match="platform 'shopify' is not supported; use one of: vtex, push"):
        platform("shopify")


def test_a_tenant_pulls_as_its_platform_does(warehouse: Warehouse, clock: ManualClock) -> None:
    store = TenantStore(warehouse)
    pushed = store.add(
        "app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )
    assert not pushed.pulls


def test_a_token_is_stored_only_as_its_digest(warehouse: Warehouse, clock: ManualClock) -> None:
    tenant = TenantStore(warehouse).add(
        "shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, now=clock.now()
    )
    token_id, token = TokenStore(warehouse).create(tenant.tenant_id, "app", clock.now())
    stored = warehouse.scalar("SELECT token_hash FROM cdp.api_tokens WHERE token_id = ?", (token_id,))
    assert stored == digest(token) and token not in str(warehouse.query("SELECT * FROM cdp.api_tokens"))
    assert TokenStore(warehouse).tenant_of(token) == tenant.tenant_id


def test_every_source_is_either_fetched_again_or_parsed_again_on_retry() -> None:
    names = {p.PULL_SOURCE, p.FEED_SOURCE, p.HOOK_SOURCE, p.PUSH_SOURCE, p.FILE_SOURCE}
    assert len(names) == 5
    assert names == p.STORE_SOURCES | p.PUSHED_SOURCES and not p.STORE_SOURCES & p.PUSHED_SOURCES
