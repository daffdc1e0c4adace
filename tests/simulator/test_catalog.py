"""The order columns without a server: lifecycle bounds, ids, dates, memory and rendering."""

from __future__ import annotations

import random

import numpy as np
import orjson

from ordersync.dates import format_vtex_datetime, parse_vtex_datetime
from ordersync.simulator import AccountSpec
from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import Catalog, weekday_weight
from ordersync.simulator.lifecycle import MAX_CHANGE_HOURS
from ordersync.simulator.payload import OrderRenderer
from ordersync.simulator.timefmt import DAY_US, F_CREATION, F_LAST_CHANGE, format_us, from_us, official_us
from ordersync.simulator.view import order_view

DAY = 20_240  # 2025-06-01


def _catalog(orders_per_day: float = 3000, days: int = 3, seed: int = 1) -> Catalog:
    cat = Catalog(AccountSpec("unit", orders_per_day), seed, (DAY - days) * DAY_US)
    cat.ensure(DAY * DAY_US)
    return cat


def test_every_change_happens_within_max_change_hours_of_creation() -> None:
    assert MAX_CHANGE_HOURS == 60
    cols = _catalog().cols
    used = cols.offsets != lc.NEVER
    assert (cols.offsets[:, 0] == 0).all() and used[:, 0].all()
    assert (cols.offsets[used] < MAX_CHANGE_HOURS * 3_600_000).all()
    assert (np.diff(cols.offsets.astype(np.int64), axis=1) >= 0).all()  # steps are in time order
    assert ((cols.codes == -1) == ~used).all()
    both = (cols.authorized != lc.NEVER) & (cols.invoiced != lc.NEVER)
    assert (cols.authorized[both] < cols.invoiced[both]).all()


def test_old_orders_stay_as_they_ended() -> None:
    """Weeks after creation (past the unused steps' sentinel) an order is in its last real state."""
    cat = _catalog(orders_per_day=500, days=40)
    rows = np.arange(len(cat.cols.creation))
    late = DAY * DAY_US + 45 * DAY_US
    settled = int(cat.cols.creation.max()) + MAX_CHANGE_HOURS * 3_600_000_000
    assert (cat.steps_at(rows, late) == cat.steps_at(rows, settled)).all()
    for row in random.Random(3).sample(range(len(rows)), 200):
        v = order_view(cat, row, late)
        assert v.last_change_us - v.created_us < MAX_CHANGE_HOURS * 3_600_000_000
        assert v.step == int(cat.steps_at(np.array([row]), settled)[0])


def test_lifecycle_branches_all_occur() -> None:
    cols = _catalog().cols
    n = len(cols.creation)
    last = cols.codes[np.arange(n), (cols.offsets != lc.NEVER).sum(axis=1) - 1]
    final = {lc.STATUS_NAMES[c] for c in np.unique(last)}
    assert {"invoiced", "canceled"} <= final
    failed = (last == lc.CANCELED) & (cols.authorized == lc.NEVER)
    late = (cols.codes == lc.REQUEST_CANCEL).any(axis=1)
    assert failed.mean() > 0.03 and late.mean() > 0.02
    slow_boleto = (cols.authorized != lc.NEVER) & (cols.authorized > 24 * 3_600_000)
    assert slow_boleto.any()
    edited = cols.edit_step >= 0
    assert 0.01 < edited.mean() < 0.1
    assert (cols.value1[edited] < cols.value0[edited]).all()
    assert (cols.value1[~edited] == cols.value0[~edited]).all()
    window = np.nonzero(cols.codes == lc.WINDOW_TO_CANCEL)
    ready_after = cols.offsets[window[0], window[1] + 1] - cols.offsets[window]
    assert ((ready_after > 29 * 60_000) & (ready_after < 31 * 60_000)).mean() > 0.9


def test_generation_is_deterministic_and_volume_follows_the_average() -> None:
    a, b = _catalog(seed=5), _catalog(seed=5)
    for name in ("creation", "offsets", "codes", "value0", "customer", "products"):
        assert np.array_equal(getattr(a.cols, name), getattr(b.cols, name))
    assert not np.array_equal(_catalog(seed=6).cols.value0[:100], a.cols.value0[:100])
    later = Catalog(AccountSpec("unit", 3000), 5, DAY * DAY_US, history_days=14)
    later.ensure((DAY + 13) * DAY_US)
    days = [count for _, _, count in later.days.values()][:14]
    assert 2700 < sum(days) / len(days) < 3300
    busy = [count for day, (_, _, count) in later.days.items() if weekday_weight(day) > 1.05]
    quiet = [count for day, (_, _, count) in later.days.items() if weekday_weight(day) < 0.95]
    assert min(busy) > max(quiet)  # weekends are quieter
    assert (np.diff(a.cols.creation) >= 0).all()


def test_customers_repeat() -> None:
    counts = np.bincount(_catalog().cols.customer)
    assert (counts >= 2).sum() > 100
    assert counts.max() < 0.02 * counts.sum()


def test_order_ids_round_trip_and_are_unique() -> None:
    cat = _catalog()
    ids = [cat.order_id(r) for r in range(len(cat))]
    assert len(set(ids)) == len(ids)
    for row in random.Random(1).sample(range(len(cat)), 300):
        assert cat.row_of(ids[row]) == row
        assert cat.row_of(f"seq{cat.sequence(row)}") == row
    assert cat.row_of("AMZ-" + ids[0]) is None
    assert cat.row_of("1234") is None


def test_a_million_orders_fit_in_modest_memory() -> None:
    cols = _catalog(orders_per_day=2000, days=2).cols
    per_order = cols.nbytes / len(cols)
    assert per_order < 200  # about 140 B: 1,000,000 orders in ~140 MB of columns


def test_written_dates_match_the_shared_helper_and_the_filter_value() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        us = rng.randrange(0, 4_000_000_000 * 1_000_000)
        style, field = rng.randrange(256), rng.randrange(5)
        text = format_us(us, style, field)
        digits = len(text.split(".")[1].rstrip("Z").split("+")[0]) if "." in text else 0
        reference = format_vtex_datetime(from_us(us), digits)
        assert text.replace("Z", "+00:00")[:-7] == reference[:-7]
        assert round(parse_vtex_datetime(text).timestamp() * 1e6) == official_us(us, style, field)


def test_rendered_orders_are_valid_json_and_consistent() -> None:
    cat = _catalog(orders_per_day=500, days=3)
    renderer = OrderRenderer(cat)
    t = DAY * DAY_US
    rows = [r for r in range(len(cat)) if int(cat.cols.creation[r]) <= t]
    for row in rows[::7]:
        view = order_view(cat, row, t)
        body = orjson.loads(renderer.render(view))
        item = renderer.list_item(view)
        assert body["value"] == sum(x["value"] for x in body["totals"]) == item["totalValue"]
        assert body["value"] == body["paymentData"]["transactions"][0]["payments"][0]["value"]
        assert sum(i["quantity"] for i in body["items"]) == item["totalItems"]
        assert body["creationDate"] == format_us(view.created_us, view.style, F_CREATION) == item["creationDate"]
        assert body["lastChange"] == format_us(view.last_change_us, view.style, F_LAST_CHANGE) == item["lastChange"]
        assert body["isCompleted"] == (body["status"] != "order-created")
        assert (body["invoicedDate"] is None) == (body["packageAttachment"]["packages"] == [])
        assert (body["cancellationData"] is None) == (body["status"] not in ("request-cancel", "cancel", "canceled"))
        assert (body["changesAttachment"] is not None) == view.edited
        assert len(body["items"]) == len(body["shippingData"]["logisticsInfo"]) == len(body["itemMetadata"]["Items"])
