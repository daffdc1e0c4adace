"""The one way to open a tenant's VTEX Orders API client: its settings and credentials applied."""

from __future__ import annotations

from ordersync.config import SyncSettings
from ordersync.errors import ConfigError
from ordersync.secrets import read_secret
from ordersync.sources.vtex.oms import VtexClient
from ordersync.tenants import Tenant


def client_for(t: Tenant, s: SyncSettings) -> VtexClient:
    """The tenant's API client; credentials are read from its environment variables only here."""
    if t.base_url is None:
        raise ConfigError(f"tenant {t.tenant_name!r} has no pull API (platform {t.platform}); nothing to ask")
    return VtexClient(
        t.base_url,
        read_secret(t.app_key_env, f"tenant {t.tenant_name} app key"),
        read_secret(t.app_token_env, f"tenant {t.tenant_name} app token"),
        concurrency=s.concurrency,
        per_page=s.per_page,
        max_retries=s.max_retries,
        max_backoff=s.max_backoff_seconds,
        timeout=s.request_timeout_seconds,
        # one budget per store account (its base URL), shared by every client of it in this process
        requests_per_minute=s.requests_per_minute,
    )
