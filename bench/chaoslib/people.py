"""Order events of a population of people, for the customers trial: deterministic from a seed, in two
batches, so a customers step after the second has real work (new orders of known people, orders
that merge two customers into one, orders whose identifiers change so a customer splits, late
cancellations that move segments and stages).

Each person buys a few times over the year before `now`: under a platform id and an email, some
with a CPF, some orders as a guest (email alone). Some people have a second email, used only on
guest orders of the first batch: the second batch's order under their platform id and that email
merges the two customers the first batch made of them. Some multi-order people have an order
whose later version (second batch) drops their identifiers for a stranger's email: a split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

#: How far back the people's orders go, and how recent the second batch's new orders are.
HISTORY_DAYS = 400
RECENT_DAYS = 30


@dataclass(frozen=True)
class Person:
    index: int
    platform_id: str | None
    email: str
    other_email: str | None  # only on guest orders of the first batch (a merge waiting to happen)
    cpf: str | None


def cpf(n: int) -> str:
    """A valid CPF (check digits right) made from `n`."""
    digits = [int(c) for c in f"{(n * 7919 + 100_000_003) % 10**9:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        check = total * 10 % 11
        digits.append(0 if check == 10 else check)
    return "".join(map(str, digits))


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Population:
    """The two batches of order events, each a list of JSON lines."""

    first: list[bytes]
    second: list[bytes]
    people: int
    orders: int

    def lines(self, which: int) -> bytes:
        return b"\n".join(self.first if which == 0 else self.second) + b"\n"


def population(people: int, now: datetime, seed: int) -> Population:
    """`people` people's orders up to `now`: the first batch older than RECENT_DAYS, the second the
    recent orders and the later versions of some older ones."""
    rng = random.Random(seed)
    first: list[bytes] = []
    second: list[bytes] = []
    orders = 0
    for i in range(people):
        person = Person(
            i,
            f"u-{i:05d}" if rng.random() < 0.75 else None,
            f"person{i}@example.com",
            f"p{i}.alt@example.net" if rng.random() < 0.12 else None,
            cpf(i) if rng.random() < 0.3 else None,
        )
        count = 1 + min(int(rng.expovariate(0.5)), 7)
        ages = sorted((rng.uniform(0.5, HISTORY_DAYS) for _ in range(count)), reverse=True)
        old = [a for a in ages if a > RECENT_DAYS]
        for n, age in enumerate(ages):
            created = now - timedelta(days=age)
            order_id = f"P{i:05d}-{n}"
            guest = person.platform_id is None or rng.random() < 0.2
            customer = _customer(person, guest=guest, alt=guest and person.other_email is not None and age > 60)
            status = "canceled" if rng.random() < 0.06 else "invoiced"
            value = f"{rng.randrange(1500, 90000) / 100:.2f}"
            event = _event(order_id, created, created + timedelta(minutes=3), status, value, customer)
            orders += 1
            (first if age > RECENT_DAYS else second).append(event)
            if age <= RECENT_DAYS or rng.random() > 0.12:
                continue
            # a later version of an older order, landing with the second batch
            changed = now - timedelta(hours=rng.uniform(1, 48))
            if len(old) > 1 and rng.random() < 0.3:  # its identifiers go: a stranger's email (a split)
                who = {"email": f"stranger{i}-{n}@example.org"}
                second.append(_event(order_id, created, changed, "invoiced", value, who))
            else:  # a late cancellation
                second.append(_event(order_id, created, changed, "canceled", value, customer))
        if person.other_email is not None and person.platform_id is not None:
            # the order that ties the second email to the platform id: two customers become one
            created = now - timedelta(days=rng.uniform(1, RECENT_DAYS))
            who = {"id": person.platform_id, "email": person.other_email}
            value = f"{rng.randrange(1500, 90000) / 100:.2f}"
            second.append(_event(f"P{i:05d}-m", created, created + timedelta(minutes=3), "invoiced", value, who))
            orders += 1
    return Population(first, second, people, orders)


def _customer(person: Person, *, guest: bool, alt: bool) -> dict[str, Any]:
    if guest:
        return {"email": person.other_email if alt and person.other_email else person.email}
    out: dict[str, Any] = {"id": person.platform_id, "email": person.email, "name": f"Person {person.index}"}
    if person.cpf is not None:
        out.update(document=person.cpf, document_type="cpf")
    return out


def _event(order_id: str, created: datetime, at: datetime, status: str, value: str, customer: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "order_id": order_id,
            "event_time": _stamp(at),
            "creation_date": _stamp(created),
            "status": status,
            "total_value": value,
            "currency_code": "BRL",
            "sales_channel": "app" if int(order_id[1:6]) % 3 == 0 else "1",
            "customer": customer,
        }
    )
