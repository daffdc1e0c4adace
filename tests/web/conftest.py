"""A running `ordersync serve` (real uvicorn, real warehouse) with a push tenant and its token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from support.sim import settings_for


@dataclass
class Served:
    url: str
    token: str
    other_token: str
    settings_url: str
    tmp: Path

    def app(self) -> Ordersync:
        return Ordersync(settings_for(self.settings_url, self.tmp))


@pytest.fixture
def served(warehouse_url: str, tmp_path: Path) -> Iterator[Served]:
    setup = Ordersync(settings_for(warehouse_url, tmp_path))
    setup.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    setup.add_tenant("other", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    _, token = setup.create_token("app", "tests")
    _, other = setup.create_token("other")
    setup.close()
    app = Ordersync(settings_for(warehouse_url, tmp_path))
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600, max_body_mb=1), worker=False)
    with serving_in_thread(app, options) as (url, _):
        yield Served(url, token, other, warehouse_url, tmp_path)
