"""Stores without a pull API: registered without account or credentials, never pulled, judged by
their last landed batch; `tenants set` changes settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import push_event_json
from ordersync.errors import ConfigError
from ordersync.facade import Ordersync
from ordersync.land.intake import Intake, Item
from ordersync.sources.push.events import item_order_id, parse_pushed
from support.sim import settings_for


def push_tenant(app: Ordersync, name: str = "app") -> None:
    app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)


def test_a_push_store_has_no_pull_to_run(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        push_tenant(app)
        t = app.tenants.get("app")
        assert (t.platform, t.account, t.base_url, t.pulls, t.change_capture) == ("push", None, None, False, "none")
        with pytest.raises(ConfigError, match="no pull API to sync"):
            app.sync(["app"])
        assert app.sync().outcomes == []  # never pulled with the others either
        (row,) = app.gaps(3)
        assert "no source to ask" in row["note"]
        (status,) = app.status()
        assert status["state"] == "Stale" and status["last_landed_at"] is None
        t = app.tenants.get("app")
        Intake(app.wh, app.clock).land_items(
            t.tenant_id, t.tz, [Item(push_event_json("P-1"))], "push", parse=parse_pushed, order_id_of=item_order_id
        )
        (status,) = app.status()
        assert status["state"] == "Current" and status["last_landed_at"] is not None


def test_add_refuses_what_does_not_fit_the_platform(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        with pytest.raises(ConfigError, match="needs --account and --base-url"):
            app.add_tenant("v", account=None, base_url=None, app_key_env=None, app_token_env=None)
        with pytest.raises(ConfigError, match="leave out --account"):
            app.add_tenant("p", platform="push", account="x", base_url=None, app_key_env=None, app_token_env=None)
        with pytest.raises(ConfigError, match="not supported"):
            app.add_tenant("s", platform="shopify", account=None, base_url=None, app_key_env=None, app_token_env=None)


def test_tenants_set(warehouse_url: str, tmp_path: Path) -> None:
    with Ordersync(settings_for(warehouse_url, tmp_path)) as app:
        push_tenant(app)
        app.add_tenant("store", account="store", base_url="http://x", app_key_env="K", app_token_env="T")
        t = app.update_tenant("store", change_capture="feed", timezone="Europe/Lisbon", frequency_hours=2)
        assert (t.change_capture, t.timezone, t.sync_frequency_hours) == ("feed", "Europe/Lisbon", 2)
        assert app.update_tenant("store", change_capture="hook").change_capture == "hook"
        with pytest.raises(ConfigError, match="offers no feed"):
            app.update_tenant("app", change_capture="feed")
        with pytest.raises(ConfigError, match="unknown"):
            app.update_tenant("store", change_capture="sometimes")
        with pytest.raises(ConfigError, match="time zone"):
            app.update_tenant("store", timezone="Mars/Olympus")
        assert app.tenants.get("store").timezone == "Europe/Lisbon"
