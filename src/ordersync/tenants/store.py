"""Tenants: the stores ordersync keeps current, in cdp.tenants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ordersync.config import DEFAULT_TIMEZONE
from ordersync.errors import ConfigError, NotFoundError
from ordersync.tenants.platforms import CHANGE_CAPTURE
from ordersync.tenants.platforms import platform as platform_named
from ordersync.text import check_tenant_name
from ordersync.warehouse import Warehouse

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_COLUMNS = (
    "tenant_id, tenant_name, sync_enabled, sync_frequency_hours, last_sync_at, go_live_date, "
    "initial_sync_completed, is_active, platform, account, base_url, app_key_env, app_token_env, timezone, "
    "coalesce(change_capture, 'none'), country"
)


@dataclass(frozen=True)
class Tenant:
    tenant_id: int
    tenant_name: str
    sync_enabled: bool
    sync_frequency_hours: int
    last_sync_at: datetime | None
    go_live_date: date | None
    initial_sync_completed: bool
    is_active: bool
    platform: str
    account: str | None
    base_url: str | None
    app_key_env: str | None
    app_token_env: str | None
    timezone: str
    change_capture: str = "none"
    #: ISO 3166 alpha-2: the country documents and phones are read for (None: from the time zone)
    country: str | None = None

    @property
    def pulls(self) -> bool:
        """The store has a pull API ordersync can ask (push-only stores have none)."""
        return platform_named(self.platform).pulls

    @property
    def next_sync_due(self) -> datetime | None:
        """When its next incremental sync falls due (None: at once, it never synced)."""
        if self.last_sync_at is None:
            return None
        return self.last_sync_at + timedelta(hours=self.sync_frequency_hours)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def public(self) -> dict[str, Any]:
        """Everything about the tenant that is safe to show: names of variables, never their values."""
        return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in self.__dict__.items()}


class TenantStore:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def add(
        self,
        name: str,
        *,
        platform: str,
        account: str | None,
        base_url: str | None,
        app_key_env: str | None,
        app_token_env: str | None,
        timezone: str = DEFAULT_TIMEZONE,
        frequency_hours: int = 6,
        go_live_date: date | None = None,
        now: datetime,
    ) -> Tenant:
        # the naming rule holds for new tenants only: one named before it keeps its name and works
        check_tenant_name(name)
        kind = platform_named(platform)
        if kind.pulls:
            if not account or not base_url:
                raise ConfigError(
                    f"a {platform} store needs --account and --base-url (its pull API); "
                    "a store that only pushes its orders is added with --platform push"
                )
            _check_url(base_url)
            for label, var in (("--app-key-env", app_key_env), ("--app-token-env", app_token_env)):
                if var is not None and not _ENV_NAME.match(var):
                    raise ConfigError(
                        f"{label} takes the NAME of an environment variable (like VTEX_APP_KEY), "
                        f"not {var!r}; credentials are never stored"
                    )
        elif account or base_url or app_key_env or app_token_env:
            raise ConfigError(
                f"a {platform} store has no pull API: leave out --account, --base-url and the credentials"
            )
        _check_timezone(timezone)
        _check_frequency(frequency_hours)
        if self.wh.scalar("SELECT count(*) FROM cdp.tenants WHERE tenant_name = ?", (name,)):
            raise ConfigError(f"tenant {name!r} already exists; pick another name or use tenants show {name}")
        self.wh.execute(
            "INSERT INTO cdp.tenants (tenant_name, platform, account, base_url, app_key_env, app_token_env, "
            "timezone, sync_frequency_hours, go_live_date, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                platform,
                account,
                base_url.rstrip("/") if base_url else None,
                app_key_env,
                app_token_env,
                timezone,
                frequency_hours,
                go_live_date,
                now,
            ),
        )
        return self.get(name)

    def list(self, *, enabled_only: bool = False) -> list[Tenant]:
        where = "WHERE sync_enabled AND is_active " if enabled_only else ""
        rows = self.wh.query(f"SELECT {_COLUMNS} FROM cdp.tenants {where}ORDER BY tenant_id")
        return [Tenant(*r) for r in rows]

    def get(self, name: str) -> Tenant:
        row = self.wh.query_one(f"SELECT {_COLUMNS} FROM cdp.tenants WHERE tenant_name = ?", (name,))
        if row is None:
            known = ", ".join(t.tenant_name for t in self.list()) or "none yet"
            raise NotFoundError(f"no tenant named {name!r} (known: {known}); add it with ordersync tenants add")
        return Tenant(*row)

    def resolve(self, name_or_id: str | int | None) -> int | None:
        """The id of the tenant named (or numbered) so, checked to exist; None when none is given,
        which a caller reads as "every tenant"."""
        if name_or_id is None or name_or_id == "":
            return None
        if isinstance(name_or_id, int):
            return self.by_id(name_or_id).tenant_id
        return self.get(name_or_id).tenant_id

    def by_id(self, tenant_id: int) -> Tenant:
        row = self.wh.query_one(f"SELECT {_COLUMNS} FROM cdp.tenants WHERE tenant_id = ?", (tenant_id,))
        if row is None:
            raise NotFoundError(f"no tenant with id {tenant_id}")
        return Tenant(*row)

    def set_enabled(self, name: str, enabled: bool) -> Tenant:
        self.get(name)
        self.wh.execute("UPDATE cdp.tenants SET sync_enabled = ? WHERE tenant_name = ?", (enabled, name))
        return self.get(name)

    def mark_initial_sync_completed(self, tenant_id: int) -> None:
        self.wh.execute("UPDATE cdp.tenants SET initial_sync_completed = TRUE WHERE tenant_id = ?", (tenant_id,))

    def mark_synced(self, tenant_id: int, when: datetime) -> None:
        self.wh.execute("UPDATE cdp.tenants SET last_sync_at = ? WHERE tenant_id = ?", (when, tenant_id))

    def update(
        self,
        name: str,
        *,
        change_capture: str | None = None,
        timezone: str | None = None,
        frequency_hours: int | None = None,
        go_live_date: date | None = None,
        country: str | None = None,
    ) -> Tenant:
        """Change a tenant's settings; what is None stays as it is."""
        tenant = self.get(name)
        changes: dict[str, Any] = {}
        if change_capture is not None:
            if change_capture not in CHANGE_CAPTURE:
                raise ConfigError(
                    f"--change-capture {change_capture!r} is unknown; use one of: {', '.join(CHANGE_CAPTURE)}"
                )
            offered = platform_named(tenant.platform).captures
            if change_capture != "none" and change_capture not in offered:
                raise ConfigError(
                    f"tenant {name!r} is on platform {tenant.platform!r}, which offers no {change_capture}; "
                    f"use one of: {', '.join(('none', *offered))}"
                )
            changes["change_capture"] = change_capture
        if timezone is not None:
            _check_timezone(timezone)
            changes["timezone"] = timezone
        if frequency_hours is not None:
            _check_frequency(frequency_hours)
            changes["sync_frequency_hours"] = frequency_hours
        if go_live_date is not None:
            changes["go_live_date"] = go_live_date
        if country is not None:
            code = country.strip().upper()
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ConfigError(
                    f"--country {country[:20]!r} is not a country code: use ISO 3166's two letters, e.g. BR"
                )
            changes["country"] = code
        for column, value in changes.items():  # column names come from the code above, never from input
            self.wh.execute(f"UPDATE cdp.tenants SET {column} = ? WHERE tenant_id = ?", (value, tenant.tenant_id))
        return self.get(name)

    def hook_secret_hash(self, tenant_id: int) -> str | None:
        value = self.wh.scalar("SELECT hook_secret_hash FROM cdp.tenants WHERE tenant_id = ?", (tenant_id,))
        return None if value is None else str(value)

    def hook_secrets(self, name: str | None = None) -> dict[str, tuple[int, str | None]]:
        """(tenant id, hook secret hash or None) by tenant name: every tenant's, or the one named
        (an empty answer when there is no such tenant)."""
        sql = "SELECT tenant_name, tenant_id, hook_secret_hash FROM cdp.tenants"
        rows = self.wh.query(sql + " WHERE tenant_name = ?", (name,)) if name is not None else self.wh.query(sql)
        return {str(n): (int(i), None if h is None else str(h)) for n, i, h in rows}

    def set_hook_secret_hash(self, tenant_id: int, secret_hash: str) -> None:
        self.wh.execute("UPDATE cdp.tenants SET hook_secret_hash = ? WHERE tenant_id = ?", (secret_hash, tenant_id))

    def set_endpoint(self, name: str, base_url: str, account: str) -> Tenant:
        self.get(name)
        self.wh.execute(
            "UPDATE cdp.tenants SET base_url = ?, account = ? WHERE tenant_name = ?",
            (base_url.rstrip("/"), account, name),
        )
        return self.get(name)


def _check_url(base_url: str) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"base URL {base_url!r} must start with http:// or https://")


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r}; use an IANA name like {DEFAULT_TIMEZONE}") from None


def _check_frequency(hours: int) -> None:
    if hours < 1:
        raise ConfigError("--frequency-hours must be at least 1")
