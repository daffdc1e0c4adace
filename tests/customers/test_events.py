"""Customer change events: written once whatever the retries, delivered at least once in batches of
at most 500 with every event's id, initial ones only with deliver_initial; on both warehouses."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ordersync.clock import ManualClock
from ordersync.config import CustomersSettings, load_settings
from ordersync.customers.events import BATCH_SIZE, Event, EventKind, EventSender, events, write
from ordersync.facade import Ordersync
from support.notices import env_name, receiving

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ON = date(2026, 12, 1)


def _app(url: str, tmp_path: Path) -> Ordersync:
    return Ordersync(load_settings(overrides={"warehouse": {"url": url}, "dbt": {"state_dir": str(tmp_path)}}))


def _events(tenant_id: int, n: int, initial: bool, kind: EventKind = EventKind.SEGMENT_CHANGED) -> list[Event]:
    return [Event(tenant_id, f"cus_{i:032x}", kind, "new_customers", "champions", ON, initial) for i in range(n)]


def test_events_are_written_once_and_delivered_in_batches_with_their_ids(warehouse_url: str, tmp_path: Path) -> None:
    with _app(warehouse_url, tmp_path) as app:
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        tid = app.tenants.get("shop").tenant_id
        first = _events(tid, 3, initial=True, kind=EventKind.STAGE_CHANGED)
        later = _events(tid, BATCH_SIZE + 20, initial=False)
        with app.wh.transaction():
            assert write(app.wh, first, "run-a", NOW) == 3
        with app.wh.transaction():
            assert write(app.wh, later, "run-b", NOW) == len(later)
        with app.wh.transaction():  # the same changes found again (a retried step): nothing new
            assert write(app.wh, later, "run-c", NOW) == 0
        assert len(events(app.wh, tid)) == 3 + len(later)

        name = env_name()
        clock = ManualClock(NOW)
        settings = CustomersSettings(webhook_url_envs=[name], backoff_seconds=10)
        with receiving([500]) as rec:
            environ = {**os.environ, name: rec.url("/customers")}
            sender = EventSender(lambda: app.wh, settings, clock, environ=environ)
            one = sender.deliver()
            assert one.webhooks[0].failed == 1 and one.webhooks[0].waiting == 2  # a 500: the round stops
            clock.advance(timedelta(seconds=11))
            two = sender.deliver()
            assert two.webhooks[0].delivered == 2 and two.webhooks[0].waiting == 0
            assert sender.deliver().delivered == 0  # nothing left: the initial batch is not sent
        bodies = [r.body for r in rec.got]
        assert all(len(b["events"]) <= BATCH_SIZE for b in bodies)
        sent = [e["id"] for b in bodies[1:] for e in b["events"]]
        first_try = [e["id"] for e in bodies[0]["events"]]
        assert set(first_try) <= set(sent)  # the failed batch came again, with the same ids
        assert sorted(set(sent)) == sorted(e.event_id for e in later)
        assert all(e["kind"] == "segment_changed" and not e["initial"] for b in bodies for e in b["events"])
        assert all("@" not in str(e) for b in bodies for e in b["events"])  # keys only

        with receiving() as rec:
            environ = {**os.environ, name: rec.url("/customers")}
            initial = CustomersSettings(webhook_url_envs=[name], deliver_initial=True)
            assert EventSender(lambda: app.wh, initial, clock, environ=environ).deliver().delivered == 1
        assert {e["id"] for e in rec.got[0].body["events"]} == {e.event_id for e in first}
