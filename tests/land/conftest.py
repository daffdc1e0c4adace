"""Fixtures for the landing tests: one migrated warehouse per backend for a whole module, with a fresh
tenant per test (or per hypothesis example), so hundreds of small landings stay fast."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest

from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.tenants import Tenant

_names = itertools.count(1)


@pytest.fixture(scope="module")
def shared_app(shared_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ordersync]:
    state = tmp_path_factory.mktemp("dbt")
    settings = load_settings(overrides={"warehouse": {"url": shared_url}, "dbt": {"state_dir": str(state)}})
    with Ordersync(settings) as app:
        app.init()
        yield app


@pytest.fixture(scope="module")
def new_tenant(shared_app: Ordersync) -> Callable[[], Tenant]:
    """A tenant of its own for each call: tests sharing the warehouse never see each other's rows."""

    def make() -> Tenant:
        name = f"shop-{next(_names)}-{uuid.uuid4().hex[:6]}"
        return shared_app.add_tenant(
            name, account=name, base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None
        )

    return make
