"""The seed's three monitoring queries run unchanged against the PostgreSQL warehouse."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from factories import vtex_order_json
from ordersync.facade import Ordersync
from support.sim import settings_for

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

SYNC_STATUS = """SELECT
tenant_name,
last_sync_at,
CASE
WHEN last_sync_at > NOW() - INTERVAL '6 hours' THEN '✅ Current'
WHEN last_sync_at > NOW() - INTERVAL '12 hours' THEN '⚠️ Behind'
ELSE '❌ Stale'
END as status
FROM cdp.tenants
WHERE is_active = true;"""

DAILY_GROWTH = """SELECT
DATE(order_date) as date,
COUNT(*) as new_orders
FROM cdp.order_events
WHERE order_date >= CURRENT_DATE - INTERVAL '7 days'
GROUP BY DATE(order_date)
ORDER BY date DESC;"""

SYNC_GAPS = """SELECT
tenant_name,
MAX(order_date) as last_order,
CURRENT_DATE - DATE(MAX(order_date)) as days_behind
FROM cdp.tenants t
JOIN cdp.order_events o ON t.tenant_id = o.tenant_id
GROUP BY tenant_name
HAVING CURRENT_DATE - DATE(MAX(order_date)) > 1;"""


def payload(order_id: str, created: datetime) -> bytes:
    stamp = created.isoformat()
    return vtex_order_json(order_id, value=1000, creationDate=stamp, lastChange=stamp)


def test_seed_monitoring_queries_verbatim(pg_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    today = now.date()
    plan = {  # tenant -> (hours since last sync, {days ago: orders created that day})
        "PetBaar": (1, {0: 3, 1: 5, 2: 4, 6: 2, 9: 7}),
        "Seven Sport": (8, {0: 1, 3: 2}),
        "Chelsea": (20, {4: 6, 5: 1}),
    }
    with Ordersync(settings_for(pg_url, tmp_path)) as app:
        for name, (hours, days) in plan.items():
            account = name.lower().replace(" ", "")
            app.add_tenant(
                account,
                account=account,
                base_url="https://example.invalid",
                app_key_env="K",
                app_token_env="T",
                timezone="UTC",
            )
            # the seed's names, as tenants named before the naming rule: they keep working
            app.wh.execute(
                "UPDATE cdp.tenants SET last_sync_at = ?, tenant_name = ? WHERE tenant_name = ?",
                (now - timedelta(hours=hours), name, account),
            )
            records = [
                payload(
                    f"{name}-{ago}-{i}",
                    datetime.combine(today - timedelta(days=ago), datetime.min.time(), tzinfo=UTC)
                    + timedelta(minutes=7 * i),
                )
                for ago, n in days.items()
                for i in range(n)
            ]
            assert app.land_records(name, records).landed == len(records)
        app.add_tenant("gone", account="gone", base_url="https://example.invalid", app_key_env="K", app_token_env="T")
        app.wh.execute("UPDATE cdp.tenants SET is_active = false, tenant_name = 'Gone' WHERE tenant_name = 'gone'")
        app.build()

        status = {r[0]: r[2] for r in app.wh.query(SYNC_STATUS)}
        assert status == {"PetBaar": "✅ Current", "Seven Sport": "⚠️ Behind", "Chelsea": "❌ Stale"}

        expected: Counter[date] = Counter()
        for _, days in plan.values():
            for ago, n in days.items():
                if ago <= 7:
                    expected[today - timedelta(days=ago)] += n
        growth = app.wh.query(DAILY_GROWTH)
        assert [(d, n) for d, n in growth] == sorted(expected.items(), reverse=True)

        gaps = {r[0]: (r[1], r[2]) for r in app.wh.query(SYNC_GAPS)}
        # PetBaar and Seven Sport have orders today; Chelsea's last order is 4 days old
        assert gaps == {"Chelsea": (today - timedelta(days=4), 4)}
