"""A dbt project of one's own (`ordersync dbt init`, `[dbt] project_dir`): `ordersync build` builds the
team's models on top of ordersync's, and every guarantee of ordersync's models still holds: they
stay in schema cdp, a build with nothing new changes nothing, a stale version landing late never
wins, a full refresh leaves fct_orders and revenue_daily as they are and is refused in production."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from ordersync.cli.main import app as cli
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.errors import ConfigError, RefusedError, TransformError
from ordersync.facade import Ordersync
from ordersync.land import Lander, ledger
from ordersync.land.records import Version
from ordersync.transform import PROJECT_DIR, project
from support.transform import FCT_COLUMNS

pytestmark = pytest.mark.dbt

T0 = datetime(2024, 5, 10, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
#: the team's own model: it reads ordersync's fct_orders by its bare name
TENANT_TOTALS = """
select tenant_id, count(*) as orders, sum(total_value) as total
from {{ ref('fct_orders') }}
group by tenant_id
"""
REVENUE_COLUMNS = "tenant_id, order_date, currency_code, orders, valid_orders, revenue"


def version(order: str, event_time: datetime, payload_hash: str, total: int) -> Version:
    return Version(
        order_id=order,
        event_time=event_time,
        order_date=event_time.date(),
        creation_date=event_time - HOUR,
        status="invoiced",
        total_value=Decimal(total),
        currency_code="BRL",
        sales_channel="1",
        customer_id=f"c-{order}",
        customer_email=f"{order}@example.com",
        customer_name=f"Customer {order}",
        payload=f'{{"orderId": "{order}", "hash": "{payload_hash}"}}',
        payload_hash=payload_hash,
    )


def team_project(tmp_path: Path) -> Path:
    """`ordersync dbt init` plus a model of the team's own."""
    result = project.init_project(tmp_path / "team")
    (result.project_dir / "models" / "tenant_totals.sql").write_text(TENANT_TOTALS, encoding="utf-8")
    return result.project_dir


def make_app(url: str, tmp_path: Path, project_dir: Path, **sections: dict[str, Any]) -> Ordersync:
    overrides = {
        "warehouse": {"url": url},
        "dbt": {"state_dir": str(tmp_path / "dbt-state"), "project_dir": str(project_dir)},
        **sections,
    }
    return Ordersync(load_settings(overrides=overrides), clock=ManualClock(T0 + 24 * HOUR))


def land(app: Ordersync, tenant_id: int, *versions: Version) -> None:
    with app.wh.transaction():
        Lander(app.wh, app.clock).land(tenant_id, versions, "test", None)


def snapshot(app: Ordersync) -> dict[str, set[tuple[Any, ...]]]:
    wh = app.wh
    return {
        "fct_orders": set(wh.query(f"SELECT {', '.join(FCT_COLUMNS)} FROM cdp.fct_orders")),
        "revenue_daily": set(wh.query(f"SELECT {REVENUE_COLUMNS} FROM cdp.revenue_daily")),
        "tenant_totals": set(wh.query("SELECT tenant_id, orders, total FROM analytics.tenant_totals")),
    }


def linked_package(project_dir: Path) -> os.stat_result:
    return os.lstat(project_dir / "dbt_packages" / "ordersync")


def test_ordersync_build_builds_the_teams_models_on_top_of_ordersyncs(warehouse_url: str, tmp_path: Path) -> None:
    team = team_project(tmp_path)
    with make_app(warehouse_url, tmp_path, team) as app:
        app.upgrade()
        land(app, 1, version("O1", T0 + 2 * HOUR, "o1-new", 300), version("O2", T0, "o2", 50))
        land(app, 2, version("O3", T0, "o3", 70))

        first = app.build(trigger="test")
        assert first.node("fct_orders").ok and first.node("fct_orders").unique_id == "model.ordersync.fct_orders"
        assert first.node("revenue_daily").ok
        assert first.node("tenant_totals").unique_id == "model.team.tenant_totals"
        assert first.node("example_orders_by_channel").status == "success"
        assert (team / "dbt_packages" / "ordersync").resolve() == PROJECT_DIR.resolve()
        relations = set(
            app.wh.query(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name IN "
                "('stg_orders', 'fct_orders', 'order_events', 'revenue_daily', 'tenant_totals', "
                "'example_orders_by_channel')"
            )
        )
        assert relations == {
            ("cdp", "stg_orders"),
            ("cdp", "fct_orders"),
            ("cdp", "order_events"),
            ("cdp", "revenue_daily"),
            ("analytics", "tenant_totals"),
            ("analytics", "example_orders_by_channel"),
        }
        built = snapshot(app)
        assert built["tenant_totals"] == {(1, 2, Decimal(350)), (2, 1, Decimal(70))}
        assert built["revenue_daily"] == {
            (1, T0.date(), "BRL", 2, 2, Decimal(350)),
            (2, T0.date(), "BRL", 1, 1, Decimal(70)),
        }
        by_channel = app.wh.query(
            "SELECT tenant_id, orders, gross_value FROM analytics.example_orders_by_channel ORDER BY tenant_id"
        )
        assert by_channel == [(1, 2, Decimal(350)), (2, 1, Decimal(70))]
        linked = linked_package(team)

        # Nothing new: nothing changes, and dbt deps does not run again.
        app.build(trigger="test")
        assert snapshot(app) == built
        assert linked_package(team).st_ino == linked.st_ino

        # A stale version of O1 lands late, and a new order: a full refresh (refused only in production)
        # still runs fct_orders and revenue_daily incrementally through the version guard.
        land(app, 1, version("O1", T0 + HOUR, "o1-stale", 999), version("O4", T0, "o4", 5))
        app.build(full_refresh=True, trigger="test")
        after = snapshot(app)
        o1 = {r[13] for r in after["fct_orders"] if r[0] == 1 and r[1] == "O1"}
        assert o1 == {"o1-new"}
        assert len(after["fct_orders"]) == 4
        assert after["tenant_totals"] == {(1, 3, Decimal(355)), (2, 1, Decimal(70))}
        assert after["revenue_daily"] == {
            (1, T0.date(), "BRL", 3, 3, Decimal(355)),
            (2, T0.date(), "BRL", 1, 1, Decimal(70)),
        }
        flags = [json.loads(b["flags"])["full_refresh"] for b in reversed(app.recent_builds())]
        assert flags == [False, False, True]


def test_a_moved_package_is_linked_again_and_a_build_without_ordersyncs_models_fails(tmp_path: Path) -> None:
    """ordersync reinstalled elsewhere: the link and the lock name a folder that is gone. The next build
    runs dbt deps again. A project that disables ordersync's models fails its build, and the landing
    ledger's range is read again by the next build."""
    team = team_project(tmp_path)
    gone = tmp_path / "old-site-packages" / "dbt"
    (team / "dbt_packages").mkdir()
    (team / "dbt_packages" / "ordersync").symlink_to(gone)
    lock = {"packages": [{"local": str(gone), "name": "ordersync"}], "sha1_hash": "0" * 40}
    (team / "package-lock.yml").write_text(json.dumps(lock), encoding="utf-8")
    with make_app(str(tmp_path / "wh.duckdb"), tmp_path, team) as app:
        app.upgrade()
        land(app, 1, version("O1", T0, "o1", 10))
        app.build(trigger="test")
        assert (team / "dbt_packages" / "ordersync").resolve() == PROJECT_DIR.resolve()
        assert yaml.safe_load((team / "package-lock.yml").read_text())["packages"][0]["local"] == str(PROJECT_DIR)
        assert ledger.cursor(app.wh, ledger.FCT_ORDERS) == 1

        for model in (team / "models").glob("*.sql"):  # they read fct_orders, which dbt would refuse first
            model.unlink()
        (team / "models" / "standalone.sql").write_text("select 1 as x\n", encoding="utf-8")
        config = team / "dbt_project.yml"
        config.write_text(config.read_text().replace("    +enabled: true", "    +enabled: false"), encoding="utf-8")
        land(app, 1, version("O2", T0, "o2", 20))
        with pytest.raises(TransformError, match="did not run ordersync's models fct_orders, order_events"):
            app.build(trigger="test")
        assert ledger.cursor(app.wh, ledger.FCT_ORDERS) == 1  # O2's batch is read by the next build
        assert app.recent_builds()[0]["status"] == "failed"


def test_a_project_that_does_not_build_this_ordersyncs_models_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with pytest.raises(ConfigError, match=r"holds no dbt_project\.yml.*ordersync dbt init"):
        project.prepare(tmp_path / "nowhere", state)

    team = team_project(tmp_path)
    (team / "packages.yml").unlink()
    with pytest.raises(ConfigError, match=r"has no packages\.yml"):
        project.prepare(team, state)

    # packages.yml naming a copy of the models somewhere else: dbt deps installs it, the build is refused.
    copy = tmp_path / "copy"
    shutil.copytree(PROJECT_DIR, copy)
    (copy / "models" / "staging" / "stg_orders.sql").write_text("select 1 as landing_id\n", encoding="utf-8")
    (team / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(copy))}\n", encoding="utf-8")
    with project.package_env(), pytest.raises(ConfigError, match="does not point at this ordersync's models"):
        project.prepare(team, state)
    assert not (state / "deps.json").exists()


def test_production_refuses_a_full_refresh_of_a_project_of_ones_own(tmp_path: Path) -> None:
    team = team_project(tmp_path)
    with make_app(str(tmp_path / "wh.duckdb"), tmp_path, team, environment={"name": "production"}) as app:
        app.upgrade()
        with pytest.raises(RefusedError, match="full refresh is refused in production"):
            app.build(full_refresh=True, trigger="test")
        assert app.recent_builds() == []
    assert not (team / "dbt_packages").exists()  # nothing ran, not even dbt deps


def test_init_writes_a_project_depending_on_the_installed_models(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["dbt", "init", str(tmp_path / "Sales-Models"), "--json"])
    assert out.exit_code == 0, out.output
    written = json.loads(out.output)
    root = tmp_path / "Sales-Models"
    assert written["name"] == "sales_models"
    assert written["config"] == f'[dbt]\nproject_dir = "{root}"'
    assert sorted(Path(f).relative_to(root).as_posix() for f in written["files"]) == [
        ".gitignore",
        "README.md",
        "dbt_project.yml",
        "macros/generate_schema_name.sql",
        "models/example_orders_by_channel.sql",
        "packages.yml",
    ]
    config = yaml.safe_load((root / "dbt_project.yml").read_text())
    shipped = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert (config["name"], config["profile"]) == ("sales_models", "ordersync")
    assert config["vars"] == shipped["vars"]
    assert config["dispatch"] == [{"macro_namespace": "ordersync", "search_order": ["ordersync"]}]
    assert config["models"]["sales_models"]["+schema"] == "analytics"
    entry = yaml.safe_load((root / "packages.yml").read_text())["packages"]
    assert entry == [{"local": f"{{{{ env_var('ORDERSYNC_DBT_PROJECT', '{PROJECT_DIR}') }}}}"}]
    assert "package-lock.yml" in (root / ".gitignore").read_text()

    again = runner.invoke(cli, ["dbt", "init", str(root)])
    assert again.exit_code == 2 and "is not empty" in again.output and "--force" in again.output
    (root / "models" / "mine.sql").write_text("select 1 as x\n")
    forced = runner.invoke(cli, ["dbt", "init", str(root), "--force", "--name", "sales", "--schema", "marts"])
    assert forced.exit_code == 0, forced.output
    assert 'project_dir = "' in forced.output
    assert (root / "models" / "mine.sql").exists()  # --force rewrites only init's own files
    assert yaml.safe_load((root / "dbt_project.yml").read_text())["models"]["sales"]["+schema"] == "marts"

    for args, why in (
        (["--name", "ordersync"], "cannot be named 'ordersync'"),
        (["--name", "9lives"], "not a dbt identifier"),
        (["--schema", "cdp"], "belongs to ordersync"),
    ):
        refused = runner.invoke(cli, ["dbt", "init", str(tmp_path / "other"), *args])
        assert refused.exit_code == 2 and why in refused.output, refused.output


def test_profiles_for_plain_dbt_are_private_and_never_in_a_project_folder(tmp_path: Path) -> None:
    team = team_project(tmp_path)
    target = {"type": "postgres", "host": "db", "user": "u", "password": "12345", "dbname": "d", "schema": "cdp"}
    with pytest.raises(ConfigError, match="is a dbt project folder"):
        project.write_user_profiles(team, target)
    assert not (team / "profiles.yml").exists()

    path = project.write_user_profiles(tmp_path / "profiles", target)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = yaml.safe_load(path.read_text())
    assert written["ordersync"]["outputs"]["warehouse"]["schema"] == "cdp"
    project.write_user_profiles(tmp_path / "profiles", target)  # its own file: replaced

    foreign = tmp_path / "home-dbt"
    foreign.mkdir()
    (foreign / "profiles.yml").write_text("other: {}\n")
    with pytest.raises(ConfigError, match="was not written by ordersync"):
        project.write_user_profiles(foreign, target)
    assert (foreign / "profiles.yml").read_text() == "other: {}\n"
    project.write_user_profiles(foreign, target, force=True)
    assert "ordersync" in yaml.safe_load((foreign / "profiles.yml").read_text())

    runner = CliRunner()
    assert runner.invoke(cli, ["init", "-w", str(tmp_path / "wh.duckdb")]).exit_code == 0
    out = runner.invoke(cli, ["dbt", "profiles", str(tmp_path / "cli"), "-w", str(tmp_path / "wh.duckdb"), "--json"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["ORDERSYNC_DBT_PROJECT"] == str(PROJECT_DIR)
    profile = yaml.safe_load(Path(shown["profiles"]).read_text())["ordersync"]["outputs"]["warehouse"]
    assert (profile["type"], profile["path"]) == ("duckdb", str(tmp_path / "wh.duckdb"))
