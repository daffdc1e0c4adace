"""An account's own days of history: a year-long store beside stores of a few days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ordersync.simulator import AccountSpec, parse_account_spec
from ordersync.simulator.__main__ import parse_args
from ordersync.simulator.app import SimulatorApp
from ordersync.simulator.server import config_to_args
from ordersync.simulator.timefmt import from_us
from support.sim import START, make_config


def test_an_account_keeps_its_own_days_and_the_others_the_installations() -> None:
    config = make_config(accounts=[AccountSpec("short", 20), AccountSpec("year", 2, days=365)], days=3)
    app = SimulatorApp(config)
    first = {name: from_us(int(store.catalog.cols.creation[0])) for name, store in app.stores.items()}
    assert START - timedelta(days=3) <= first["short"] < START - timedelta(days=2)
    assert START - timedelta(days=365) <= first["year"] < START - timedelta(days=364)
    assert len(app.stores["year"].catalog) > 500  # about 2 a day over the year, not over 3 days


def test_the_subprocess_flags_carry_each_accounts_days() -> None:
    config = make_config(accounts=[AccountSpec("short", 20), AccountSpec("year", 12.5, days=365)], days=3)
    assert parse_args(config_to_args(config)) == config
    assert parse_account_spec("year:12:365") == AccountSpec("year", 12, 365)
    assert parse_account_spec("short:20") == AccountSpec("short", 20, None)
    with pytest.raises(ValueError, match=r"NAME:ORDERS_PER_DAY\[:DAYS\]"):
        parse_account_spec("year:12:a-year")
    with pytest.raises(ValueError, match="days of history"):
        AccountSpec("year", 12, -1)
