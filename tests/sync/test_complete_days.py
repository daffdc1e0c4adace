"""The last complete day: one rule, in each tenant's own time zone, less the source's index lag."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.revisions.desk import PlanDesk
from ordersync.sync.reconcile import last_complete_days

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # UTC-3: still 1 March there


def test_days_end_in_the_tenants_zone() -> None:
    assert last_complete_days(NOW, 2, ZoneInfo("UTC"), 0) == [date(2026, 2, 28), date(2026, 3, 1)]
    assert last_complete_days(NOW, 1, SAO_PAULO, 0) == [date(2026, 2, 28)]


def test_the_index_lag_holds_a_day_back_until_the_source_lists_it_whole() -> None:
    assert last_complete_days(NOW, 1, ZoneInfo("UTC"), 119) == [date(2026, 3, 1)]
    assert last_complete_days(NOW, 1, ZoneInfo("UTC"), 121) == [date(2026, 2, 28)]


def test_a_plans_default_days_are_complete_for_every_tenant() -> None:
    settings = load_settings(overrides={"sync": {"index_lag_minutes": 0}})
    desk = PlanDesk(lambda: None, settings, ManualClock(NOW), lambda: None, lambda: None, lambda c: c)  # type: ignore[arg-type,return-value]
    tenants: list[Any] = [SimpleNamespace(tz=ZoneInfo("UTC")), SimpleNamespace(tz=SAO_PAULO)]
    assert desk.recent_days(tenants, 14) == (date(2026, 2, 15), date(2026, 2, 28))
    assert desk.recent_days(tenants[:1], 1) == (date(2026, 3, 1), date(2026, 3, 1))
