"""Helpers for the revision tests: a facade on a module-shared warehouse, push tenants, order events."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from factories import push_event
from ordersync.facade import Ordersync
from ordersync.revisions.asof import DayDiff, DayRevenue
from ordersync.sources.push.bodies import json_items
from ordersync.tenants import Tenant

_names = itertools.count(1)


def new_push_tenant(app: Ordersync, prefix: str = "shop") -> Tenant:
    name = f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"
    return app.add_tenant(
        name, account=None, base_url=None, app_key_env=None, app_token_env=None, platform="push", timezone="UTC"
    )


def event(
    order_id: str,
    event_time: datetime,
    *,
    status: str = "invoiced",
    total: str | Decimal = "100.00",
    day: date | None = None,
    currency: str = "BRL",
) -> dict[str, Any]:
    """An order event (a full snapshot as of `event_time`) created on `day` (default: the event's day)."""
    created = day or event_time.date()
    return push_event(
        order_id,
        event_time=event_time.astimezone(UTC).isoformat(),
        status=status,
        total_value=str(total),
        currency_code=currency,
        creation_date=datetime(created.year, created.month, created.day, 12, tzinfo=UTC).isoformat(),
    )


def push(app: Ordersync, tenant: Tenant, events: list[dict[str, Any]], *, check: bool = True) -> dict[str, Any]:
    """Land `events` in one batch through the push receiver (one landing transaction); its answer,
    checked to have quarantined nothing unless `check` is False."""
    body = orjson.dumps(events)
    answer = app.push_receiver().receive(tenant, json_items(body), idempotency_key=None, request=body)
    assert answer.status == 200, answer.body
    assert not check or answer.body["quarantined"] == 0, answer.body
    return answer.body


def diff_matches_as_of(app: Ordersync, tenant: str, a: datetime, b: datetime) -> list[DayDiff]:
    """`revenue diff` from `a` to `b`, checked against its oracle, two whole `revenue --as-of`
    answers: exactly the days whose figures differ between them, each with the figures each gives,
    and on each such day at least one order whose known version changed (nothing else moves a day)."""
    got = app.revenue_diff(a, b, tenant)
    before = {d.key: d for d in app.revenue(tenant, as_of=a).days}
    after = {d.key: d for d in app.revenue(tenant, as_of=b).days}

    def at(days: dict[tuple[int, date, str], DayRevenue], key: tuple[int, date, str]) -> DayRevenue:
        return days.get(key, DayRevenue(*key))

    expected = sorted(k for k in before.keys() | after.keys() if at(before, k).figures() != at(after, k).figures())
    assert [(d.tenant_id, d.order_date, d.currency_code) for d in got] == expected
    for d in got:
        key = (d.tenant_id, d.order_date, d.currency_code)
        assert (d.before, d.after) == (at(before, key), at(after, key))
        assert d.orders, f"{key} changed with no order behind it"
        assert all(c.before != c.after for c in d.orders)
    return got
