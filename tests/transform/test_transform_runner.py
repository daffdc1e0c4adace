"""The dbt runner: the generated profile, failures reported by node, selection, secrets kept out
of logs, and the project shipped in the package."""

from __future__ import annotations

import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from dbt.config.renderer import ProfileRenderer

import ordersync.transform
from ordersync.errors import TransformError
from ordersync.transform import PROJECT_DIR, run_dbt, write_profiles
from support.transform import DbtWarehouse, landing_row, open_dbt_warehouse

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "password",
    ["plain", "12345", "True", "[1, 2]", "a{{ b }}c", "{% raw %}", "x#}y{#", 'q"uo\\te', "ünï©ødé 🦆", ""],
)
def test_profile_values_reach_dbt_unchanged(tmp_path: Path, password: str) -> None:
    target = {"type": "postgres", "host": "db", "port": 5432, "user": "u", "password": password}
    path = write_profiles(tmp_path, target)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    rendered = ProfileRenderer({}).render_data(raw)
    assert rendered["ordersync"]["outputs"]["warehouse"] == target


def test_the_project_ships_inside_the_package() -> None:
    assert PROJECT_DIR.parent == Path(ordersync.transform.__file__).parent
    for name in (
        "dbt_project.yml",
        "models/sources.yml",
        "models/schema.yml",
        "models/staging/stg_orders.sql",
        "models/marts/fct_orders.sql",
        "models/marts/order_events.sql",
        "macros/generate_schema_name.sql",
        "macros/order_versions.sql",
        "macros/postgres_physical.sql",
    ):
        assert (PROJECT_DIR / name).is_file(), name


@pytest.mark.dbt
def test_failures_name_the_node_and_its_message(dbt_wh: DbtWarehouse) -> None:
    dbt_wh.land([landing_row(1, "A-1", T0, T0, "h1")])
    dbt_wh.build()
    # A second row with the same order_key, as if written by the latest build: the unique test must
    # fail, by name.
    dbt_wh.wh.execute(
        "INSERT INTO cdp.fct_orders SELECT tenant_id, order_id || '-copy', event_time, event_ingested_at, "
        "order_date, creation_date, status, total_value, currency_code, sales_channel, customer_id, "
        "customer_email, customer_name, payload_hash, landing_id, customer_document, customer_document_type, "
        "customer_phone, order_key, built_at, replaced_order_date "
        "FROM cdp.fct_orders"
    )
    with pytest.raises(TransformError, match=r"unique_fct_orders_order_key fail"):
        dbt_wh.build("test")
    # A model that cannot build: the error names it and carries the warehouse's message.
    dbt_wh.wh.execute("DROP VIEW cdp.order_events")
    dbt_wh.wh.execute("ALTER TABLE cdp.orders_landing RENAME COLUMN payload_hash TO content_hash")
    with pytest.raises(TransformError, match=r"stg_orders error: .*payload_hash") as failure:
        dbt_wh.build("run")
    assert "3 downstream nodes skipped" in str(failure.value)
    assert "log:" in str(failure.value)


@pytest.mark.dbt
def test_select_runs_only_the_selected_nodes(dbt_wh: DbtWarehouse) -> None:
    result = dbt_wh.build("run", select="stg_orders")
    assert [(n.name, n.status) for n in result.nodes] == [("stg_orders", "success")]
    assert result.node("stg_orders").ok
    with pytest.raises(KeyError):
        result.node("fct_orders")


@pytest.mark.dbt
@pytest.mark.postgres
def test_the_password_stays_out_of_dbt_logs_and_artifacts(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    w = open_dbt_warehouse(pg_url, state)
    secret = "s3cret-{{ not jinja }}-31415"
    # dbt records the process's command line: ordersync's may hold the URL with the password
    monkeypatch.setattr(sys, "argv", ["ordersync", "build", "--warehouse", f"postgresql://u:{secret}@db/x"])
    try:
        # the test server trusts local connections, so any password is accepted
        target = {**w.wh.dbt_target(), "password": secret}
        result = run_dbt(target, "run", state_dir=state, select="stg_orders")
    finally:
        w.close()
    assert result.ok
    for path in state.rglob("*"):
        if path.is_file():  # profiles.yml included: it reads the password from the environment
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), path


@pytest.mark.parametrize("lookback", [-1.0, float("nan"), float("inf")])
def test_a_lookback_must_be_a_finite_number_of_days(tmp_path: Path, lookback: float) -> None:
    target = {"type": "duckdb", "path": str(tmp_path / "x.duckdb")}
    with pytest.raises(TransformError, match="lookback_days"):
        run_dbt(target, state_dir=tmp_path, lookback_days=lookback)
