"""A store against its truth: the simulator's orders synced and built, and the customers step's map of
orders to customers (cdp.customer_orders) held against who placed each order, on DuckDB and PostgreSQL.

What counts as right: two orders are one customer exactly when a chain of orders sharing an identifier
joins them (the same platform id, document, address or phone, in whatever form the order writes it).
Simulated people never share an identifier, so no customer may hold two people's orders; and a
person's orders that no such chain joins (a guest order with only a relay address and a document,
beside orders without the document) may be two customers: nothing in them says they are one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.simulator import AccountSpec
from ordersync.simulator.config import IdentityShares, PopulationParams
from ordersync.simulator.population import ANONYMOUS_EMAIL, GUEST, NO_DOCUMENT, NO_PHONE
from ordersync.simulator.server import start_in_thread
from support.sim import KEY, TOKEN, call, make_config, register, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

ACCOUNT = "shop"
# Customers who come back within the test's eight days (one purchase a week or so), and orders that
# leave identifiers out far more often than a real store's, so that links and gaps are many.
POPULATION = PopulationParams(alpha=6.0)
SHARES = IdentityShares(
    guest=0.35, email_case=0.2, masked_email=0.1, anonymous_email=0.1, no_document=0.35, no_phone=0.35, phone_format=0.3
)
#: which identifier an order leaves out, by variant bit: (kind, bit)
CARRIED = (("platform", GUEST), ("document", NO_DOCUMENT), ("email", ANONYMOUS_EMAIL), ("phone", NO_PHONE))


def _partition(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    return {frozenset(group) for group in groups}


def _chains(names: dict[str, list[tuple[str, int]]]) -> set[frozenset[str]]:
    """Orders joined by shared identifiers (union-find over each order's (kind, person) names)."""
    parent: dict[str, str] = {order: order for order in names}

    def root(order: str) -> str:
        while parent[order] != order:
            parent[order] = parent[parent[order]]
            order = parent[order]
        return order

    holder: dict[tuple[str, int], str] = {}
    for order, carried in names.items():
        for name in carried:
            other = holder.setdefault(name, order)
            parent[root(order)] = root(other)
    groups: dict[str, set[str]] = defaultdict(set)
    for order in names:
        groups[root(order)].add(order)
    return _partition(groups.values())


def test_the_customer_map_joins_each_persons_orders_as_far_as_their_identifiers_do(
    warehouse_url: str, tmp_path: Path
) -> None:
    config = make_config(
        accounts=[AccountSpec(ACCOUNT, 150)],
        days=8,
        seed=11,
        index_lag_seconds=0,
        population=POPULATION,
        identities=SHARES,
    )
    with start_in_thread(config) as sim:
        # the customers step runs after every build (the suite turns it off outside its own tests)
        settings = settings_for(warehouse_url, tmp_path)
        settings = settings.model_copy(update={"customers": settings.customers.model_copy(update={"enabled": True})})
        with Ordersync(settings, clock=ManualClock(sim.clock())) as app:
            register(app, sim, [ACCOUNT], KEY, TOKEN)
            app.update_tenant(ACCOUNT, country="BR")
            report = app.sync(build=False)
            assert report.ok, [o.error for o in report.outcomes]
            app.build()  # and the customers step after it
            tenant_id = app.tenants.get(ACCOUNT).tenant_id
            mapped = app.wh.query(
                "SELECT order_id, customer_key FROM cdp.customer_orders WHERE tenant_id = ?", (tenant_id,)
            )
            built = {
                str(r[0]) for r in app.wh.query("SELECT order_id FROM cdp.fct_orders WHERE tenant_id = ?", (tenant_id,))
            }
        people: dict[str, int] = call(f"{sim.url}/_simulator/people?account={ACCOUNT}").json()["orders"]
        # the sync stops a few minutes short of the store's now (index lag): the last orders wait for the next
        assert built <= set(people) and len(built) > 0.98 * len(people)
        truth = {order_id: people[order_id] for order_id in built}
        assert sim.app is not None
        cat = sim.app.stores[ACCOUNT].catalog
        names: dict[str, list[tuple[str, int]]] = {}
        for row in range(len(cat)):
            order_id = cat.order_id(row)
            if order_id in truth:
                bits, person = int(cat.cols.ident[row]), cat.person_of(row)
                names[order_id] = [(kind, person) for kind, bit in CARRIED if not bits & bit]

    by_key: dict[str, set[str]] = defaultdict(set)
    for order_id, key in mapped:
        by_key[str(key)].add(str(order_id))
    assert {o for group in by_key.values() for o in group} == set(truth)  # every order built, mapped
    people_of = {key: {truth[o] for o in orders} for key, orders in by_key.items()}
    assert all(len(people) == 1 for people in people_of.values()), "a customer holds two people's orders"
    expected = _chains(names)
    assert _partition(by_key.values()) == expected
    # the store's orders really test something: people coming back, and orders only a chain joins
    persons = defaultdict(set)
    for order_id, person in truth.items():
        persons[person].add(order_id)
    returning = [p for p, orders in persons.items() if len(orders) > 1]
    split = [p for p in returning if sum(1 for g in expected if g & persons[p]) > 1]
    assert len(truth) > 1000 and len(returning) > 150 and split, (len(truth), len(returning), len(split))
