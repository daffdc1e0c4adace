"""`feed setup` and `hook setup`: write the store's Feed v3 or Hook configuration for the tenant's
app key, then switch the tenant's change capture to it.

The filter reports every change by default: VTEX's `FromWorkflow` filter reports status changes
only, so items added or removed while an order stays in `handling` (its total changes) would wait
for the next pull; a `FromOrders` filter whose expression every order matches, with single fire
disabled, reports every change of every order. `--filter status` keeps `FromWorkflow`.

An app key has one feed and one hook at VTEX, and a commit by any reader of a feed removes the
event for every reader; the merchant's ERP may already be using them. So a configuration someone
else wrote is never replaced without `force`, and the refusal says what is there; one ordersync
wrote for this tenant (an earlier setup, either filter) is rewritten, so running setup again
switches it to the filter asked for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ordersync.config import FeedSettings, SyncSettings
from ordersync.errors import ConfigError, SourceError
from ordersync.secrets import digest, register_secret, secret_matches
from ordersync.sources.vtex.events_api import EventsApi
from ordersync.sources.vtex.hook import SECRET_HEADER
from ordersync.tenants import Tenant, TenantStore
from ordersync.tenants.platforms import platform

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
#: A JSONata expression true for every order. It reads orderId, which never changes: VTEX knows of
#: FromOrders expressions on changing fields (status) that skip versions.
EVERY_ORDER = 'orderId != ""'


class CaptureFilter(StrEnum):
    """Which changes the store reports to the feed or hook."""

    ALL = "all"  # FromOrders: every change, item edits included, every time
    STATUS = "status"  # FromWorkflow: status changes only; edits wait for the pull


def capture_filter(text: str) -> CaptureFilter:
    """`--filter`'s value, or a ConfigError naming the choices."""
    try:
        return CaptureFilter(text.strip().lower())
    except ValueError:
        raise ConfigError(
            f"--filter {text!r} is unknown; use all (every change, item edits included) or status (status changes only)"
        ) from None


def event_filter(what: CaptureFilter = CaptureFilter.ALL) -> dict[str, Any]:
    """The `filter` object of ordersync's feed and hook configurations."""
    if what is CaptureFilter.STATUS:
        return {"type": "FromWorkflow", "status": list(ALL_STATUSES)}
    # disableSingleFire: without it an order is reported once, the first time it matches
    return {"type": "FromOrders", "expression": EVERY_ORDER, "disableSingleFire": True}


def written_by_ordersync(config: dict[str, Any]) -> bool:
    """Whether a feed or hook configuration's filter is one ordersync writes (either kind)."""
    filt = config.get("filter")
    if not isinstance(filt, dict):
        return False
    if filt.get("type") == "FromWorkflow":
        status = filt.get("status")
        return isinstance(status, list) and sorted(map(str, status)) == sorted(ALL_STATUSES)
    return {k: filt.get(k) for k in ("type", "expression", "disableSingleFire")} == event_filter(CaptureFilter.ALL)


def feed_config(what: CaptureFilter = CaptureFilter.ALL) -> dict[str, Any]:
    return {
        "filter": event_filter(what),
        "queue": {
            "visibilityTimeoutInSeconds": VISIBILITY_TIMEOUT_SECONDS,
            "MessageRetentionPeriodInSeconds": RETENTION_SECONDS,
        },
    }


@dataclass(frozen=True)
class SetupResult:
    tenant: str
    kind: str  # "feed" or "hook"
    #: the configuration that was there before (ordersync's own, or replaced with force), or None
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
        fires = "every change" if filt.get("disableSingleFire") is True else "once per order"
        what = f"FromOrders {filt.get('expression')!r}, {fires}"
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
    store: TenantStore,
    tenant: Tenant,
    sync: SyncSettings,
    feed: FeedSettings,
    force: bool,
    what: CaptureFilter = CaptureFilter.ALL,
) -> SetupResult:
    """Configure the store's feed for ordersync (every change by default, 240 s visibility, 4 days'
    retention) and set the tenant's change capture to 'feed'."""
    _check_captures(tenant, "feed")
    config = feed_config(what)
    async with EventsApi(tenant, sync, feed, wait_out_429=True) as api:
        existing = await api.get_config("feed")
        ours = existing is not None and tenant.change_capture == "feed" and written_by_ordersync(existing)
        if existing is not None and not (force or ours):
            raise ConfigError(
                f"tenant {tenant.tenant_name}: the store already has a feed for this app key "
                f"({describe('feed', existing)}). An app key has one feed, and whoever commits an event "
                "removes it for every reader: if the merchant's ERP or another integration reads it, give "
                "ordersync an app key of its own. To replace the configuration anyway, run again with --force"
            )
        answer = await api.put_config("feed", config)
    store.update(tenant.tenant_name, change_capture="feed")
    return SetupResult(tenant.tenant_name, "feed", existing, answer or config)


def hook_url(url: str, tenant_name: str) -> str:
    """The full endpoint: a URL with no path gets ordersync's hook path for the tenant."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url {url!r} must be an absolute http(s) URL, e.g. https://cdp.example.com")
    path = parts.path
    if path in ("", "/"):
        path = HOOK_PATH.format(tenant=quote(tenant_name, safe=""))
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _our_hook_secret(existing: dict[str, Any] | None, stored_hash: str | None) -> str | None:
    """The secret of a hook ordersync configured for this tenant (its header matches the hash
    kept), or None: any other hook is someone else's."""
    hook = existing.get("hook") if existing is not None else None
    headers = hook.get("headers") if isinstance(hook, dict) else None
    if not isinstance(headers, dict):
        return None
    given = next((v for k, v in headers.items() if str(k).lower() == SECRET_HEADER.lower()), None)
    return given if isinstance(given, str) and secret_matches(given, stored_hash) else None


def new_hook_secret(store: TenantStore, tenant: Tenant) -> str:
    """A new secret for the tenant's Hook header; only its hash is kept (the old one stops working)."""
    secret = secrets.token_urlsafe(32)
    register_secret(secret)  # scrubbed from anything printed or logged from now on
    store.set_hook_secret_hash(tenant.tenant_id, digest(secret))
    return secret


async def hook_setup(
    store: TenantStore,
    tenant: Tenant,
    url: str,
    sync: SyncSettings,
    feed: FeedSettings,
    force: bool,
    what: CaptureFilter = CaptureFilter.ALL,
) -> SetupResult:
    """Configure the store's hook to send every change (by default) to `url` with a secret header,
    keep the secret's hash, and set the tenant's change capture to 'hook'.

    The store pings the URL before it accepts, so `ordersync serve` must be running and reachable
    from the store. A hook ordersync set up for this tenant is rewritten with its secret kept
    (serve goes on accepting it); otherwise, and always with `force`, the secret is new, and its
    hash is stored only once the store has accepted: a failed setup leaves the old configuration
    and the old secret working."""
    _check_captures(tenant, "hook")
    endpoint = hook_url(url, tenant.tenant_name)
    async with EventsApi(tenant, sync, feed, wait_out_429=True) as api:
        existing = await api.get_config("hook")
        kept = _our_hook_secret(existing, store.hook_secret_hash(tenant.tenant_id))
        secret = kept if kept is not None and not force else secrets.token_urlsafe(32)
        register_secret(secret)  # scrubbed from anything printed or logged from now on
        config = {"filter": event_filter(what), "hook": {"url": endpoint, "headers": {SECRET_HEADER: secret}}}
        if existing is not None and kept is None and not force:
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
    if secret != kept:
        store.set_hook_secret_hash(tenant.tenant_id, digest(secret))
    store.update(tenant.tenant_name, change_capture="hook")
    return SetupResult(tenant.tenant_name, "hook", existing, answer or config, endpoint)
