"""Which orders of one tenant are one customer, and under which key (union-find).

Orders sharing any identifier are one customer. An identifier carried by orders of more than
`max_platform_ids` distinct platform ids joins nobody: it is a shared office document or a store's
default e-mail, not a person. An order with no identifier left is a customer of its own.

Keys are stable: the oldest key survives. Each key previously given is at home in the component
holding its oldest order (by creation time, then order id); a component keeps the oldest of the keys
at home in it, and a component with none takes a new key, from its oldest order's strongest
identifier (or, when that key is taken, the next candidate). Keys that no component keeps were
absorbed (a merge); a key whose orders now lie under several keys was split.

The result depends only on the orders and the previous assignment, never on their order, and is a
fixed point: resolving again with the assignment it returned changes nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple, Protocol

from ordersync.customers.identifiers import Identifier, IdKind, precedence

#: An identifier carried by more distinct platform ids than this joins no customers
#: (`[customers] max_platform_ids`).
MAX_PLATFORM_IDS = 20


class CustomerKeys(Protocol):
    """What resolving needs of the keys (`keys.IdentityKeys`)."""

    def key_for(self, tenant_id: int, identifier: Identifier) -> str: ...

    def order_key(self, tenant_id: int, order_id: str) -> str: ...


class OrderIdentity(NamedTuple):
    """An order as identity sees it: its id, when it was created, its identifiers (any order). A
    named tuple: a full recompute makes one for every order of the tenant."""

    order_id: str
    created_at: datetime
    identifiers: tuple[Identifier, ...] = ()


@dataclass(frozen=True, slots=True)
class Merge:
    """`absorbed` keys no longer exist: their orders (those at home with them) are now `surviving`'s."""

    surviving: str
    absorbed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Split:
    """The orders of `old_key` now lie under several keys, `old_key` among them when it survived."""

    old_key: str
    new_keys: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    #: order id -> customer key, for every order given
    assignment: dict[str, str]
    merges: tuple[Merge, ...] = ()
    splits: tuple[Split, ...] = ()
    #: identifiers left out for being shared by too many platform ids
    ignored: frozenset[Identifier] = field(default_factory=frozenset)

    def changed_keys(self) -> set[str]:
        """Every key in a merge or split: their customers must be computed again."""
        found: set[str] = set()
        for merge in self.merges:
            found.add(merge.surviving)
            found.update(merge.absorbed)
        for split in self.splits:
            found.add(split.old_key)
            found.update(split.new_keys)
        return found


def _interned(orders: list[OrderIdentity]) -> tuple[list[Identifier], list[list[int]]]:
    """Each distinct identifier numbered once, and each order's identifiers as those numbers (an
    identifier is hashed once per order, not once per step)."""
    number: dict[Identifier, int] = {}
    per_order = [[number.setdefault(i, len(number)) for i in order.identifiers] for order in orders]
    return list(number), per_order  # a dict keeps its insertion order: the numbers' order


def _shared_too_widely(table: list[Identifier], per_order: list[list[int]], max_platform_ids: int) -> set[int]:
    platform = IdKind.PLATFORM
    is_platform = [identifier.kind is platform for identifier in table]
    first_owner = [-1] * len(table)
    owners: dict[int, set[int]] = {}  # only the identifiers of two platform ids or more
    for numbers in per_order:
        platform_ids = [n for n in numbers if is_platform[n]]
        if not platform_ids:
            continue
        for n in numbers:
            if is_platform[n]:
                continue
            for owner in platform_ids:
                first = first_owner[n]
                if first < 0:
                    first_owner[n] = owner
                elif first != owner:
                    owners.setdefault(n, {first}).add(owner)
    return {n for n, found in owners.items() if len(found) > max_platform_ids}


def _components(
    orders: list[OrderIdentity], per_order: list[list[int]], ignored: set[int], identifiers: int
) -> list[list[OrderIdentity]]:
    """The customers: groups of orders linked by identifiers, each oldest order first, the groups by
    their oldest order. A union-find over the orders' positions, written out in the loop (a full
    recompute joins a quarter of a million pairs): each group's root is its smallest position, so
    every order's parent comes before it."""
    parent = list(range(len(orders)))
    first_with = [-1] * identifiers
    for n in ignored:
        first_with[n] = -2  # joins nobody
    for index, numbers in enumerate(per_order):
        for n in numbers:
            a = first_with[n]
            if a == -1:
                first_with[n] = index
                continue
            if a == -2:
                continue
            while parent[a] != a:
                parent[a] = a = parent[parent[a]]
            b = index
            while parent[b] != b:
                parent[b] = b = parent[parent[b]]
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
    groups: dict[int, list[OrderIdentity]] = {}
    for index, order in enumerate(orders):
        root = parent[index] = parent[parent[index]]  # its parent's root, found just before
        found = groups.get(root)
        if found is None:
            groups[root] = [order]
        else:
            found.append(order)
    # `orders` is sorted oldest first, so each group already is, and the roots come in order too
    return list(groups.values())


#: Oldest first: by creation time, then order id.
_age = attrgetter("created_at", "order_id")


def _candidates(
    tenant_id: int, members: list[OrderIdentity], ignored: frozenset[Identifier], keys: CustomerKeys
) -> Iterator[str]:
    """New keys a component may take, best first: its orders' identifiers, oldest order and strongest
    identifier first, then its orders' own keys, then numbered keys of its oldest order."""
    for order in members:
        for identifier in sorted(order.identifiers, key=precedence):
            if identifier not in ignored:
                yield keys.key_for(tenant_id, identifier)
    for order in members:
        yield keys.order_key(tenant_id, order.order_id)
    # only reached when a previous assignment already used all of those for other customers
    for n in itertools.count(1):
        yield keys.order_key(tenant_id, f"{members[0].order_id}\x00{n}")


def resolve(
    tenant_id: int,
    orders: Iterable[OrderIdentity],
    previous: Mapping[str, str],
    keys: CustomerKeys,
    *,
    max_platform_ids: int = MAX_PLATFORM_IDS,
    ignored_identifiers: Collection[Identifier] | None = None,
    taken: Collection[str] = (),
) -> Resolution:
    """Group a tenant's orders into customers and key them, keeping `previous` (order id -> key)
    keys where the oldest-key rule allows. `orders` are all the tenant's orders, each id once;
    previous entries of orders not given are not looked at.

    Given part of a tenant (every order sharing a value with the part is in it), pass the values the
    whole tenant shares too widely as `ignored_identifiers` (counted over all its orders), and the
    keys its other customers hold as `taken` (a new key is never one of them)."""
    ordered = sorted(orders, key=_age)
    table, per_order = _interned(ordered)
    if ignored_identifiers is None:
        ignored_numbers = _shared_too_widely(table, per_order, max_platform_ids)
    else:
        wide = set(ignored_identifiers)
        ignored_numbers = {n for n, identifier in enumerate(table) if identifier in wide}
    ignored = frozenset(table[n] for n in ignored_numbers)
    components = _components(ordered, per_order, ignored_numbers, len(table))

    component_of = {order.order_id: number for number, members in enumerate(components) for order in members}
    # each old key's home: the component of its oldest order
    home: dict[str, int] = {}
    for order in ordered:
        old = previous.get(order.order_id)
        if old is not None and old not in home:
            home[old] = component_of[order.order_id]

    chosen: dict[int, str] = {}
    for number, members in enumerate(components):
        for order in members:  # oldest first: the first key at home here is the oldest one
            old = previous.get(order.order_id)
            if old is not None and home[old] == number:
                chosen[number] = old
                break
    # a key once given, kept or absorbed, never comes back as another customer's new key
    taken = set(home) | set(taken)
    for number, members in enumerate(components):
        if number not in chosen:
            key = next(k for k in _candidates(tenant_id, members, ignored, keys) if k not in taken)
            chosen[number] = key
            taken.add(key)

    assignment = {order_id: chosen[number] for order_id, number in component_of.items()}
    return Resolution(
        assignment=assignment,
        merges=_merges(chosen, home),
        splits=_splits(components, previous, chosen),
        ignored=ignored,
    )


def _merges(chosen: dict[int, str], home: dict[str, int]) -> tuple[Merge, ...]:
    kept = set(chosen.values())
    absorbed: dict[int, set[str]] = defaultdict(set)
    for old, number in home.items():
        if old not in kept:
            absorbed[number].add(old)
    merges = [Merge(chosen[number], tuple(sorted(olds))) for number, olds in absorbed.items()]
    return tuple(sorted(merges, key=lambda m: m.surviving))


def _splits(
    components: list[list[OrderIdentity]], previous: Mapping[str, str], chosen: dict[int, str]
) -> tuple[Split, ...]:
    now_under: dict[str, set[str]] = defaultdict(set)
    for number, members in enumerate(components):
        for order in members:
            old = previous.get(order.order_id)
            if old is not None:
                now_under[old].add(chosen[number])
    splits = [Split(old, tuple(sorted(new))) for old, new in now_under.items() if len(new) > 1]
    return tuple(sorted(splits, key=lambda s: s.old_key))
