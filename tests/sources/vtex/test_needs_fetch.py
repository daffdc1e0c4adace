"""Which listed orders are worth a get-order: new ones, and those whose list entry shows a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ordersync.sources.vtex import ListEntry
from ordersync.sources.vtex.listing import Known, needs_fetch

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def test_fetch_only_new_or_changed() -> None:
    t0 = NOW - timedelta(days=1)
    known = Known(t0, "handling", Decimal("10.00"), {"h"})
    entry = ListEntry("o", t0, t0, "handling", 1000)
    assert needs_fetch(entry, None)
    assert not needs_fetch(entry, known)
    assert needs_fetch(ListEntry("o", t0, t0 + timedelta(seconds=1), "invoiced", 1000), known)
    # a lastChange printed with fewer digits is not a change by itself
    assert not needs_fetch(ListEntry("o", t0, t0 - timedelta(microseconds=5), "handling", 1000), known)
    # but a different status is, even when lastChange looks the same (two changes in one second)
    assert needs_fetch(ListEntry("o", t0, t0, "invoiced", 1000), known)
    # without lastChange, status or value tell
    assert needs_fetch(ListEntry("o", t0, None, "invoiced", 1000), known)
    assert needs_fetch(ListEntry("o", t0, None, "handling", 999), known)
    assert not needs_fetch(ListEntry("o", t0, None, "handling", 1000), known)
