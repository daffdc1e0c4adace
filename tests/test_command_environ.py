"""A command run for another process reads its settings and credentials from the environment it was
sent (config.command_environ), in its own context only: other threads keep this process's own."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ordersync.config import load_settings
from ordersync.errors import ConfigError
from ordersync.secrets import command_environ, command_variables, read_secret, scrub


def test_settings_and_credentials_come_from_the_given_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDERSYNC__SYNC__CONCURRENCY", "3")  # this process's own setting
    monkeypatch.setenv("SHOP_KEY", "own-key")
    caller = {
        "ORDERSYNC__ENVIRONMENT__NAME": "production",
        "SHOP_TOKEN": "callers-token-value",
        "ORDERSYNC_PUSH_TOKEN": "callers-push-token",
    }
    with command_environ(caller):
        settings = load_settings()
        assert settings.environment.is_production
        assert settings.sync.concurrency == 16  # this process's variable is not the caller's
        assert read_secret("SHOP_TOKEN", "token").get_secret_value() == "callers-token-value"
        with pytest.raises(ConfigError, match="SHOP_KEY is not set"):
            read_secret("SHOP_KEY", "key")
        assert scrub("it was callers-token-value") == "it was ***"  # read_secret remembered it
        assert scrub("sent callers-push-token") == "sent ***"  # an ORDERSYNC_*TOKEN* of the caller
        seen_elsewhere: list[str | None] = []
        other = threading.Thread(target=lambda: seen_elsewhere.append(command_variables().get("SHOP_TOKEN")))
        other.start()
        other.join()
        assert seen_elsewhere == [None]  # another thread reads this process's environment
    assert load_settings().sync.concurrency == 3 and not load_settings().environment.is_production
    assert "ORDERSYNC__ENVIRONMENT__NAME" not in os.environ


def test_an_unknown_setting_of_the_caller_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with command_environ({"ORDERSYNC__SYNC__OVERLAP_MINUTE": "5"}), pytest.raises(ConfigError) as refused:
        load_settings()
    assert "ORDERSYNC__SYNC__OVERLAP_MINUTES" in str(refused.value)
    load_settings()  # this process's environment has no such variable
