"""The test session's shared dbt parse (tests/support/dbt_parse.py): a warehouse's first build
reads a parse equal to the one dbt would have made for it, and parses nothing itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ordersync.config import WarehouseSettings
from ordersync.transform import run_dbt
from ordersync.warehouse import open_warehouse
from support import dbt_parse

pytestmark = [
    pytest.mark.dbt,
    pytest.mark.skipif(os.environ.get("ORDERSYNC_TEST_SHARED_PARSE") == "0", reason="the shared parse is off"),
]

#: Selects no node: these builds parse and run nothing.
NOTHING = "tag:ordersync_test_parse_only"


def _target(url: str) -> dict[str, object]:
    wh = open_warehouse(WarehouseSettings(url=url))
    try:
        return wh.dbt_target()
    finally:
        wh.close()


def test_a_seeded_parse_equals_the_full_parse_of_the_warehouse(warehouse_url: str, tmp_path: Path) -> None:
    target = _target(warehouse_url)
    with dbt_parse.paused():
        run_dbt(target, "build", state_dir=tmp_path / "full", select=NOTHING)
    run_dbt(target, "build", state_dir=tmp_path / "seeded", select=NOTHING)

    log = (tmp_path / "seeded" / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "Partial parsing enabled" in log and "Unable to do partial parsing" not in log
    full = dbt_parse.comparable(tmp_path / "full" / "target" / dbt_parse.PARSE_FILE)
    seeded = dbt_parse.comparable(tmp_path / "seeded" / "target" / dbt_parse.PARSE_FILE)
    assert seeded == full


def test_a_warehouse_of_another_name_gets_its_own_relation_names(tmp_path: Path) -> None:
    url = str(tmp_path / "other.duckdb")
    run_dbt(_target(url), "build", state_dir=tmp_path / "state", select=NOTHING)

    log = (tmp_path / "state" / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "Partial parsing enabled" in log and "Unable to do partial parsing" not in log
    parse = dbt_parse.comparable(tmp_path / "state" / "target" / dbt_parse.PARSE_FILE)
    fct = parse["nodes"]["model.ordersync.fct_orders"]
    assert (fct["database"], fct["relation_name"]) == ("other", '"other"."cdp"."fct_orders"')
