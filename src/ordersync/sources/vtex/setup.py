"""`feed setup` and `hook setup`: write the store's Feed v3 or Hook configuration for the tenant's
app key, then switch the tenant's change capture to it.

An app key has one feed and one hook at VTEX, and a commit by any reader of a feed removes the
event for every reader; the merchant's ERP may already be using them. So an existing configuration
is never replaced without `force`, and the refusal says what is there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ordersync.config import FeedSettings, SyncSettings, register_secret
from ordersync.errors import ConfigError, SourceError
from ordersync.sources import platform
from ordersync.sources.vtex.api import EventsApi
from ordersync.sources.vtex.hook import SECRET_HEADER
from ordersync.tenants import Tenant, TenantStore
from ordersync.web.tokens import digest

#: Every status VTEX names (the workflow's and the extra ones its filters accept): status strings
#: are not validated by VTEX, and a change to a status left out would never be reported.
ALL_STATUSES: tuple[str, ...] = (
    "order-created",
    "order-completed",
    "on-order-completed",
    "on-order-completed-ffm",
    "order-accepted",
    "waiting-for-order-authorization",
    "waiting-for-authorization",
    "waiting-for-seller-decision",
    "waiting-for-mkt-authorization",
    "waiting-for-manual-authorization",
    "waiting-ffmt-authorization",
    "authorize-fulfillment",
    "waiting-for-fulfillment",
    "waiting-seller-handling",
    "window-to-change-seller",
    "window-to-change-payment",
    "approve-payment",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "start-handling",
    "handling",
    "ready-for-invoicing",
    "invoice",
    "invoiced",
    "invoice-after-cancellation-deny",
    "request-cancel",
    "cancellation-requested",
    "cancel",
    "canceled",
    "replaced",
    "order-create-error",
    "order-creation-error",
)
VISIBILITY_TIMEOUT_SECONDS = 240
RETENTION_SECONDS = 345_600  # VTEX's minimum, 4 days
HOOK_PATH = "/v1/hooks/vtex/{tenant}"


def workflow_filter() -> dict[str, Any]:
    return {"type": "FromWorkflow", "status": list(ALL_STATUSES)}


def feed_config() -> dict[str, Any]:
    return {
        "filter": workflow_filter(),
        "queue": {
            "visibilityTimeoutInSeconds": VISIBILITY_TIMEOUT_SECONDS,
            "MessageRetentionPeriodInSeconds": RETENTION_SECONDS,
        },
    }


@dataclass(frozen=True)
class SetupResult:
    tenant: str
    kind: str  # "feed" or "hook"
    #: the configuration that was there before (replaced with force), or None
    replaced: dict[str, Any] | None
    #: what the store answered for the configuration written
    config: dict[str, Any]
    #: the hook's endpoint (hook only)
    url: str | None = None

    def public(self) -> dict[str, Any]:
        """The result without the hook's secret header value."""
        return {
            "tenant": self.tenant,
            "kind": self.kind,
            "url": self.url,
            "replaced": _without_secrets(self.replaced),
            "config": _without_secrets(self.config),
        }


def _without_secrets(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None or not isinstance(config.get("hook"), dict):
        return config
    hook = dict(config["hook"])
    if isinstance(hook.get("headers"), dict):
        hook["headers"] = dict.fromkeys(hook["headers"], "***")
    return {**config, "hook": hook}


def _check_captures(tenant: Tenant, kind: str) -> None:
    offered = platform(tenant.platform).captures
    if kind not in offered:
        raise ConfigError(
            f"tenant {tenant.tenant_name!r} is on platform {tenant.platform!r}, which has no {kind} to set up"
        )


def describe(kind: str, config: dict[str, Any]) -> str:
    """A line saying what a feed or hook configuration does."""
    filt = config.get("filter") if isinstance(config.get("filter"), dict) else {}
    assert isinstance(filt, dict)
    if filt.get("type") == "FromOrders" or "expression" in filt:
        what = f"FromOrders {filt.get('expression')!r}"
    else:
        statuses = filt.get("status")
        what = f"FromWorkflow on {len(statuses)} statuses" if isinstance(statuses, list) else "FromWorkflow"
    if kind == "hook":
        hook = config.get("hook") if isinstance(config.get("hook"), dict) else {}
        assert isinstance(hook, dict)
        return f"{what}, sending to {hook.get('url')}"
    queued = config.get("quantity")
    return f"{what}" + (f", {queued} events queued" if queued is not None else "")


async def feed_setup(
    store: TenantStore, tenant: Tenant, sync: SyncSettings, feed: FeedSettings, force: bool
) -> SetupResult:
    """Configure the store's feed for ordersync (every status, 240 s visibility, 4 days' retention)
    and set the tenant's change capture to 'feed'."""
    _check_captures(tenant, "feed")
    async with EventsApi(tenant, sync, feed, wait_out_429=True) as api:
        existing = await api.get_config("feed")
        if existing is not None and not force:
            raise ConfigError(
                f"tenant {tenant.tenant_name}: the store already has a feed for this app key "
                f"({describe('feed', existing)}). An app key has one feed, and whoever commits an event "
                "removes it for every reader: if the merchant's ERP or another integration reads it, give "
                "ordersync an app key of its own. To replace the configuration anyway, run again with --force"
            )
        answer = await api.put_config("feed", feed_config())
    store.update(tenant.tenant_name, change_capture="feed")
    return SetupResult(tenant.tenant_name, "feed", existing, answer or feed_config())


def hook_url(url: str, tenant_name: str) -> str:
    """The full endpoint: a URL with no path gets ordersync's hook path for the tenant."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url {url!r} must be an absolute http(s) URL, e.g. https://cdp.example.com")
    path = parts.path
    if path in ("", "/"):
        path = HOOK_PATH.format(tenant=quote(tenant_name, safe=""))
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def hook_setup(
    store: TenantStore, tenant: Tenant, url: str, sync: SyncSettings, feed: FeedSettings, force: bool
) -> SetupResult:
    """Configure the store's hook to send every status change to `url` with a new secret header,
    keep the secret's hash, and set the tenant's change capture to 'hook'.

    The store pings the URL before it accepts, so `ordersync serve` must be running and reachable
    from the store. The new secret's hash is stored only once the store has accepted: a failed
    setup leaves the old configuration and the old secret working."""
    _check_captures(tenant, "hook")
    endpoint = hook_url(url, tenant.tenant_name)
    secret = secrets.token_urlsafe(32)
    register_secret(secret)  # scrubbed from anything printed or logged from now on
    config = {"filter": workflow_filter(), "hook": {"url": endpoint, "headers": {SECRET_HEADER: secret}}}
    async with EventsApi(tenant, sync, feed, wait_out_429=True) as api:
        existing = await api.get_config("hook")
        if existing is not None and not force:
            raise ConfigError(
                f"tenant {tenant.tenant_name}: the store already has a hook for this app key "
                f"({describe('hook', existing)}). An app key has one hook: replacing it stops those "
                "notifications. To replace it anyway, run again with --force"
            )
        try:
            answer = await api.put_config("hook", config)
        except SourceError as exc:
            if exc.status != 400:
                raise
            raise ConfigError(
                f"tenant {tenant.tenant_name}: the store did not accept the hook ({exc}). It pings {endpoint} "
                "first and needs a 200: start ordersync serve first, reachable from the store at that URL "
                "(VTEX accepts https only), then run hook setup again. Nothing was changed; the old "
                "configuration and secret keep working"
            ) from None
    # A notification the store sends before this commits gets a 401 and is retried by the store.
    store.set_hook_secret_hash(tenant.tenant_id, digest(secret))
    store.update(tenant.tenant_name, change_capture="hook")
    return SetupResult(tenant.tenant_name, "hook", existing, answer or config, endpoint)
