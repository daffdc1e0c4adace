"""Union-find of a tenant's orders into customers: shared identifiers join, widely shared ones do not,
the oldest key survives merges and splits, and the result is order-independent and a fixed point."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.customers.identifiers import Identifier, IdKind
from ordersync.customers.keys import IdentityKeys
from ordersync.customers.resolve import Merge, OrderIdentity, Resolution, Split, resolve
from support.properties import examples

KEYS = IdentityKeys(bytes(range(32)), "test")
TENANT = 7
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def plat(value: str) -> Identifier:
    return Identifier(IdKind.PLATFORM, value)


def email(value: str) -> Identifier:
    return Identifier(IdKind.EMAIL, value)


def doc(value: str) -> Identifier:
    return Identifier(IdKind.DOCUMENT, f"cpf:{value}")


def order(order_id: str, day: int, *identifiers: Identifier) -> OrderIdentity:
    return OrderIdentity(order_id, T0 + timedelta(days=day), identifiers)


def run(orders: list[OrderIdentity], previous: dict[str, str] | None = None, **kw: int) -> Resolution:
    return resolve(TENANT, orders, previous or {}, KEYS, **kw)


def test_orders_sharing_any_identifier_are_one_customer_keyed_by_the_oldest_top_identifier() -> None:
    orders = [
        order("o3", 3, email("ana@x.com"), Identifier(IdKind.PHONE, "+5511987651234")),
        order("o1", 1, doc("52998224725"), email("ana@x.com")),
        order("o2", 2, plat("u-9"), Identifier(IdKind.PHONE, "+5511987651234")),
        order("o4", 0, email("bob@x.com")),
        order("o5", 5),
    ]
    result = run(orders)
    ana = KEYS.key_for(TENANT, doc("52998224725"))  # o1 is the oldest of the first four: its document
    assert result.assignment == {
        "o1": ana,
        "o2": ana,
        "o3": ana,
        "o4": KEYS.key_for(TENANT, email("bob@x.com")),
        "o5": KEYS.order_key(TENANT, "o5"),  # no identifier: a customer of its own
    }
    assert result.merges == () and result.splits == ()


def test_an_identifier_of_more_than_20_platform_ids_joins_nobody() -> None:
    shared = email("compras@office.com")
    orders = [order(f"o{i}", i, plat(f"u{i}"), shared) for i in range(21)]
    result = run(orders)
    assert len(set(result.assignment.values())) == 21
    assert result.ignored == frozenset({shared})
    assert result.assignment["o0"] == KEYS.key_for(TENANT, plat("u0"))
    # twenty platform ids are still one person's household, not a shared mailbox
    assert len(set(run(orders[:20]).assignment.values())) == 1
    # an order whose only identifier is ignored stands alone, keyed by its order id
    lone = run([*orders, order("guest", 30, shared)])
    assert lone.assignment["guest"] == KEYS.order_key(TENANT, "guest")


def test_the_oldest_key_survives_a_merge() -> None:
    old = [order("a", 1, email("ana@x.com")), order("b", 2, doc("52998224725"))]
    first = run(old)
    key_a, key_b = first.assignment["a"], first.assignment["b"]
    assert key_a != key_b
    # a later order carries both: one customer, under the key of the oldest order
    joined = run([*old, order("c", 3, email("ana@x.com"), doc("52998224725"))], first.assignment)
    assert set(joined.assignment.values()) == {key_a}
    assert joined.merges == (Merge(key_a, (key_b,)),)
    assert joined.splits == ()
    # the previous key wins even over an older order that arrives late
    late = run([*old, order("c", 3, email("ana@x.com"), doc("52998224725")), order("z", 0, doc("52998224725"))],
               joined.assignment)  # fmt: skip
    assert set(late.assignment.values()) == {key_a}
    assert late.merges == () and late.splits == ()


def test_a_split_keeps_the_key_where_its_oldest_order_is() -> None:
    before = [order("a", 1, email("ana@x.com")), order("b", 2, email("ana@x.com"), plat("u-2"))]
    first = run(before)
    key = first.assignment["a"]
    # b's e-mail was corrected in a later version: b is someone else
    after = [order("a", 1, email("ana@x.com")), order("b", 2, email("bea@x.com"), plat("u-2"))]
    split = run(after, first.assignment)
    assert split.assignment["a"] == key
    assert split.assignment["b"] == KEYS.key_for(TENANT, plat("u-2"))
    assert split.splits == (Split(key, tuple(sorted({key, split.assignment["b"]}))),)
    assert split.merges == ()


def test_a_new_key_is_never_one_already_given() -> None:
    # a's key came from the e-mail b now carries alone: b takes its next candidate, not a's key
    first = run([order("a", 1, email("ana@x.com")), order("b", 2, email("ana@x.com"))])
    key = first.assignment["a"]
    moved = run([order("a", 1, doc("52998224725")), order("b", 2, email("ana@x.com"))], first.assignment)
    assert moved.assignment["a"] == key
    assert moved.assignment["b"] == KEYS.order_key(TENANT, "b")
    # and when every candidate is taken, a numbered key of the oldest order
    taken = {"a": KEYS.key_for(TENANT, email("e")), "b": KEYS.order_key(TENANT, "c"), "x": "cus_x"}
    crowded = run([order("a", 1, email("e")), order("b", 2), order("c", 3)], taken)
    assert crowded.assignment["c"] not in taken.values()
    assert len(set(crowded.assignment.values())) == 3


# --- properties ---------------------------------------------------------------------------------

POOL = [plat("u0"), plat("u1"), plat("u2"), email("e0"), email("e1"), email("e2"), doc("d0"), doc("d1")]
OLD_KEYS = ["cus_old_a", "cus_old_b", "cus_old_c", KEYS.key_for(TENANT, email("e0")), KEYS.order_key(TENANT, "o1")]


@st.composite
def tenants(draw: st.DrawFn) -> tuple[list[OrderIdentity], dict[str, str]]:
    n = draw(st.integers(1, 12))
    orders = [
        order(f"o{i}", draw(st.integers(0, 4)), *draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True)))
        for i in range(n)
    ]
    previous = draw(st.dictionaries(st.sampled_from([o.order_id for o in orders]), st.sampled_from(OLD_KEYS)))
    return orders, previous


def components(orders: list[OrderIdentity], ignored: frozenset[Identifier]) -> list[set[str]]:
    """The customers by a naive fixed point, independent of the module's union-find."""
    groups = [({o.order_id}, set(o.identifiers) - ignored) for o in orders]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if groups[i][1] & groups[j][1]:
                    groups[i] = (groups[i][0] | groups[j][0], groups[i][1] | groups[j][1])
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return [ids for ids, _ in groups]


def widely_shared(orders: list[OrderIdentity], limit: int) -> frozenset[Identifier]:
    owners: dict[Identifier, set[str]] = defaultdict(set)
    for o in orders:
        for i in o.identifiers:
            owners[i].update(p.value for p in o.identifiers if p.kind is IdKind.PLATFORM)
    return frozenset(i for i, who in owners.items() if i.kind is not IdKind.PLATFORM and len(who) > limit)


@given(tenants(), st.randoms(use_true_random=False), st.sampled_from([1, 2, 20]))
@settings(max_examples=examples(300))
def test_resolving_is_order_independent_a_fixed_point_and_keeps_the_oldest_keys(
    tenant: tuple[list[OrderIdentity], dict[str, str]], rnd: random.Random, limit: int
) -> None:
    orders, previous = tenant
    result = run(orders, previous, max_platform_ids=limit)
    shuffled = list(orders)
    rnd.shuffle(shuffled)
    assert run(shuffled, dict(reversed(previous.items())), max_platform_ids=limit) == result

    # the customers are the groups linked by identifiers not shared too widely, one key each
    assert result.ignored == widely_shared(orders, limit)
    groups = components(orders, result.ignored)
    keys_of = [{result.assignment[o] for o in group} for group in groups]
    assert all(len(k) == 1 for k in keys_of)
    assert len({next(iter(k)) for k in keys_of}) == len(groups)

    # the oldest key survives: a kept key lives where its oldest previous order is
    age = {o.order_id: (o.created_at, o.order_id) for o in orders}
    kept = set(result.assignment.values()) & set(previous.values())
    for key in kept:
        oldest = min((o for o, k in previous.items() if k == key), key=age.__getitem__)
        assert result.assignment[oldest] == key
    for merge in result.merges:
        assert merge.surviving in kept
        assert not set(merge.absorbed) & set(result.assignment.values())
    absorbed = [k for m in result.merges for k in m.absorbed]
    assert sorted(absorbed) == sorted(set(previous.values()) - kept)
    for split in result.splits:
        assert set(split.new_keys) == {result.assignment[o] for o, k in previous.items() if k == split.old_key}

    # resolving again from its own answer changes nothing
    again = run(orders, result.assignment, max_platform_ids=limit)
    assert again.assignment == result.assignment
    assert again.merges == () and again.splits == ()


@given(tenants(), st.integers(0, 12))
@settings(max_examples=examples(150))
def test_orders_added_in_batches_keep_every_earlier_customer_key_they_do_not_merge(
    tenant: tuple[list[OrderIdentity], dict[str, str]], cut: int
) -> None:
    orders, _ = tenant
    first = run(orders[:cut])
    later = run(orders, first.assignment)
    merged_away = {k for m in later.merges for k in m.absorbed}
    for order_id, key in first.assignment.items():
        assert later.assignment[order_id] == key or key in merged_away
    assert later.splits == ()  # adding orders never splits a customer
