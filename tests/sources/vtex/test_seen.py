"""SeenOrders: each order once per list call, with memory that follows the open slices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.sources.vtex.listing import ListEntry
from ordersync.sources.vtex.seen import SeenOrders
from ordersync.sources.vtex.windows import ListWindow, from_ms
from support.properties import examples

DAY = datetime(2024, 5, 1, tzinfo=UTC)
ROOT = ListWindow.covering(DAY, DAY + timedelta(days=1) - timedelta(microseconds=1))


def entry(order_id: str, created: datetime) -> ListEntry:
    return ListEntry(order_id, created, None, "invoiced", 100)


def test_a_finished_slice_forgets_its_interior_but_not_its_ends() -> None:
    seen = SeenOrders("creationDate")
    seen.asked(ROOT, 2)
    inner = [entry(f"in-{i}", DAY + timedelta(hours=1, minutes=i)) for i in range(50)]
    edge = entry("edge", DAY)
    assert all(seen.first_time(ROOT, e) for e in [*inner, edge])
    assert not seen.first_time(ROOT, inner[3])  # the same order on a shifted page
    seen.done(ROOT)
    assert seen.held() == 51
    seen.done(ROOT)
    assert seen.held() == 1
    # a neighbour sharing the boundary still skips the order on it
    neighbour = ListWindow(ROOT.start - 3_600_000, ROOT.start)
    seen.asked(neighbour, 1)
    assert not seen.first_time(neighbour, edge)


def test_slices_skip_what_the_split_window_yielded_and_free_it_after() -> None:
    seen = SeenOrders("creationDate")
    seen.asked(ROOT, 1)
    early = entry("early", DAY + timedelta(hours=2))
    assert seen.first_time(ROOT, early)
    parts = ROOT.split(3)
    seen.split(ROOT, parts)
    for part in parts:
        seen.asked(part, 1)
    seen.done(ROOT)
    assert not seen.first_time(parts[0], early)
    assert seen.held() == 1
    for part in parts:
        seen.done(part)
    assert seen.held() == 0


def test_an_order_on_a_shared_boundary_comes_once_even_printed_to_the_second() -> None:
    seen = SeenOrders("creationDate")
    left, right = ROOT.split(7)[:2]  # they meet at 03:25:42.857
    boundary = from_ms(left.end)
    shown = entry("on-boundary", boundary.replace(microsecond=0))  # the list printed no fraction
    for part in (left, right):
        seen.asked(part, 1)
    assert seen.first_time(right, shown)
    assert not seen.first_time(left, shown)


def test_other_fields_keep_every_id_for_the_whole_call() -> None:
    # The list does not show authorizedDate or invoicedDate, so nothing tells an id is safe to drop.
    seen = SeenOrders("authorizedDate")
    seen.asked(ROOT, 1)
    assert seen.first_time(ROOT, entry("a", DAY - timedelta(days=9)))
    seen.done(ROOT)
    assert seen.held() == 1


@settings(max_examples=examples(200), deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=ROOT.end - ROOT.start - 1_234), min_size=1, max_size=60),
    parts=st.integers(min_value=2, max_value=6),
    repeats=st.lists(st.integers(min_value=0, max_value=59), max_size=20),
    order=st.randoms(use_true_random=False),
    truncate=st.booleans(),
)
def test_every_order_comes_exactly_once_whatever_the_reading_order(
    offsets: list[int], parts: int, repeats: list[int], order: object, truncate: bool
) -> None:
    """Orders read first by the whole window (one page), then by its slices: an order on a shared
    boundary is in both neighbours, some repeat on shifted pages, pages come back in any order."""
    root = ListWindow(ROOT.start + 1_234, ROOT.end)  # slices meet off whole seconds
    slices = root.split(parts)
    orders = {f"o{i}": root.start + off for i, off in enumerate(offsets)}
    orders.update({f"b{k}": s.end for k, s in enumerate(slices[:-1])})  # on the shared boundaries
    reads: list[tuple[ListWindow, str]] = [(root, oid) for oid in list(orders)[:3]]
    for s in slices:
        reads += [(s, oid) for oid, ms in orders.items() if s.start <= ms <= s.end]
    reads += [(slices[0], oid) for i, oid in enumerate(orders) if i in repeats and orders[oid] <= slices[0].end]
    later = reads[3:]
    order.shuffle(later)  # type: ignore[attr-defined]
    reads = reads[:3] + later

    seen = SeenOrders("creationDate")
    seen.asked(root, 1)
    seen.split(root, slices)
    for s in slices:
        seen.asked(s, 1)
    yielded: list[str] = []
    for window, oid in reads:
        created = from_ms(orders[oid]) + timedelta(microseconds=300)
        if truncate:
            created = created.replace(microsecond=0)
        if seen.first_time(window, entry(oid, created)):
            yielded.append(oid)
    assert sorted(yielded) == sorted(orders)
