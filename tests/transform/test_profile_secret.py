"""The warehouse password never lands in a file: the generated dbt profile reads it from an environment
variable set only while dbt runs (the test server trusts every connection, so any password connects)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.transform.dbt_invoke import SECRET_ENVS
from support.revisions import event, new_push_tenant, push

pytestmark = [pytest.mark.dbt, pytest.mark.postgres]

NOW = datetime(2024, 6, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "password",
    [
        "".join(str(int(c, 16) % 10) for c in uuid.uuid4().hex),  # digits: YAML and Jinja would make it a number
        "{{ '%:@" + uuid.uuid4().hex,  # Jinja and URL syntax
    ],
    ids=["digits", "jinja"],
)
def test_a_build_leaves_no_file_holding_the_password(pg_url: str, tmp_path: Path, password: str) -> None:
    scheme, _, rest = pg_url.partition("://")
    user, _, where = rest.partition("@")
    url = f"{scheme}://{user}:{quote(password, safe='')}@{where}"
    state = tmp_path / "state"
    settings = load_settings(overrides={"warehouse": {"url": url}, "dbt": {"state_dir": str(state)}})
    with Ordersync(settings, clock=ManualClock(NOW)) as app:
        app.init()
        tenant = new_push_tenant(app)
        push(app, tenant, [event("P-1", NOW)])
        app.build()
        assert app.wh.scalar("SELECT count(*) FROM cdp.fct_orders WHERE tenant_id = ?", (tenant.tenant_id,)) == 1

    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "profiles.yml" for p in files)
    needle = password.encode()
    holding = [str(p) for p in files if needle in p.read_bytes()]
    assert holding == []
    assert "env_var" in (state / "profiles.yml").read_text()
    # and the variable was set for the build only
    assert not set(SECRET_ENVS.values()) & set(os.environ)
