"""Tenants: the stores ordersync keeps current (`store`), the platforms they run on (`platforms`)
and the API tokens that act for them (`tokens`)."""

from ordersync.tenants.platforms import CHANGE_CAPTURE, PLATFORMS, Platform, platform
from ordersync.tenants.store import Tenant, TenantStore
from ordersync.tenants.tokens import TokenInfo, TokenStore

__all__ = ["CHANGE_CAPTURE", "PLATFORMS", "Platform", "Tenant", "TenantStore", "TokenInfo", "TokenStore", "platform"]
