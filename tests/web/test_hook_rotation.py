"""A hook secret rotated with `ordersync hook setup --force` while serve runs takes effect at once:
the old secret is refused and the new one accepted by the very next notification. On DuckDB the
command runs inside serve (the local channel), on PostgreSQL beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from ordersync.cli.main import run_in_process
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.serve.process import ServeOptions, serving_in_thread
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from ordersync.sources.vtex.hook import SECRET_HEADER
from support.cli import ordersync
from support.sim import register, settings_for

pytestmark = pytest.mark.integration
ACCOUNT = "store1"


def test_a_rotated_secret_is_refused_and_the_new_one_accepted_at_once(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(
        port=0, seed=5, accounts=[AccountSpec(ACCOUNT, 5)], days=1, start=datetime(2026, 11, 20, tzinfo=UTC), speed=0
    )
    with start_in_thread(config) as sim:
        with Ordersync(settings_for(warehouse_url, tmp_path)) as setup:
            register(setup, sim, [ACCOUNT], config.app_key, config.app_token)
        order = sim.truth(ACCOUNT)[0]["orderId"]
        body = orjson.dumps({"OrderId": order, "State": "invoiced", "LastChange": "2026-11-20T10:00:00Z"})
        app = Ordersync(settings_for(warehouse_url, tmp_path))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        with serving_in_thread(app, options, run_in_process) as (url, _):

            def setup_hook(*force: str) -> str:
                done = ordersync(["hook", "setup", "--tenant", ACCOUNT, "--url", url, "--warehouse", warehouse_url,
                                  *force], tmp_path)  # fmt: skip
                assert done.returncode == 0, done.stderr
                configured = sim.events()["hooks"]["configs"][-1]
                return str(configured["hook"]["headers"][SECRET_HEADER])

            def notify(secret: str) -> int:
                headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
                return httpx.post(f"{url}/v1/hooks/vtex/{ACCOUNT}", content=body, headers=headers).status_code

            first = setup_hook()
            assert notify(first) == 200
            second = setup_hook("--force")
            assert second != first
            assert notify(first) == 401
            assert notify(second) == 200
