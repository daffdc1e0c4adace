"""One tenant's bad data never stops the others' build.

A build runs once for every tenant. Only when it fails does ordersync look for the tenants whose
data fails it: it builds halves of the tenant list (var `tenants`, macros/tenants.sql) and splits
each half that fails again, down to single tenants; a group that builds is done. Every tenant
outside the failing ones has then been built, and the failing ones are named in cdp.build_runs and
held (cdp.held_tenants). If every tenant fails alone, and a build of no tenant fails too, the
failure is not in the data and the build fails as before.

A held tenant is tried again by every build, which reads its landing batches from where it was
first left out (var `held_ledger`) and recomputes its revenue from where revenue_daily stood then
(var `revenue_since`): the ledger cursor moves for the others, and nothing of the held tenant is
skipped once its data builds (e.g. after `ordersync quarantine add` withdrew the bad version).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ordersync.errors import TransformError
from ordersync.warehouse import Warehouse

#: A build of some tenants: the tenant filter (None: every tenant) -> raises TransformError on failure.
Attempt = Callable[[Mapping[str, list[int]] | None], Any]
#: Far enough back for revenue_daily to reread every fct_orders row of a held tenant.
_THE_BEGINNING = "1970-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Held:
    """A tenant earlier builds left out: from where to read its data again."""

    tenant_id: int
    since_seq: int
    fct_consumed: str | None


@dataclass
class Isolated:
    """What a build that failed found: the last attempt that built, and the failing tenants' errors."""

    result: Any
    failing: dict[int, str] = field(default_factory=dict)
    attempts: int = 0


def held(wh: Warehouse) -> dict[int, Held]:
    rows = wh.query("SELECT tenant_id, since_seq, fct_consumed FROM cdp.held_tenants")
    return {
        int(r[0]): Held(int(r[0]), int(r[1]), None if r[2] is None else r[2].astimezone(UTC).isoformat()) for r in rows
    }


def fct_consumed(wh: Warehouse) -> str | None:
    """How far revenue_daily has surely read fct_orders: the built_at of the last build that
    succeeded (its revenue_daily read every fct_orders row written up to then). None when unknown
    (no such build yet): everything is read again. One indexed row, so a build that succeeds pays
    nothing for it."""
    row = wh.query_one(
        "SELECT flags FROM cdp.build_runs WHERE status = 'succeeded' ORDER BY started_at DESC, build_id DESC LIMIT 1"
    )
    built_at = json.loads(row[0]).get("built_at") if row else None
    return str(built_at) if built_at else None


def held_vars(tenants: Mapping[int, Held]) -> dict[str, Any]:
    """The build values that read a held tenant's data from where it was left out."""
    if not tenants:
        return {}
    floors = [h.fct_consumed or _THE_BEGINNING for h in tenants.values()]
    return {
        "held_ledger": [[h.tenant_id, h.since_seq] for h in sorted(tenants.values(), key=lambda h: h.tenant_id)],
        "revenue_since": min(floors, key=datetime.fromisoformat),
    }


def part_vars(build: Mapping[str, Any], tenants: Mapping[str, list[int]], consumed: str | None) -> dict[str, Any]:
    """The build values of an attempt that builds some tenants (`tenants`: {"only": ids}). Its
    revenue_daily reads the fct_orders rows written since it stood before the build (or earlier,
    for held tenants), so the rows every earlier attempt wrote are read whatever they left behind."""
    floors = [consumed or _THE_BEGINNING]
    if build.get("revenue_since"):
        floors.append(str(build["revenue_since"]))
    return {**build, "tenants": dict(tenants), "revenue_since": min(floors, key=datetime.fromisoformat)}


def isolate(
    attempt: Attempt, tenant_ids: Sequence[int], failure: TransformError, suspects: Sequence[int] = ()
) -> Isolated:
    """After a build of every tenant failed with `failure`: build the tenants apart to find the ones
    whose data fails it. `suspects` (the tenants earlier builds left out) are tried first: when the
    others build without them, only they are searched, so a tenant that stays bad costs each build
    one more dbt build, not a search. Raises `failure` when it is not one of data (every tenant
    fails alone and a build of no tenant fails too)."""
    found = Isolated(result=None)

    def builds(only: list[int]) -> bool:
        found.attempts += 1
        try:
            found.result = attempt({"only": only})
        except TransformError as exc:
            if len(only) == 1:
                found.failing[only[0]] = str(exc)
            return False
        return True

    def search(group: list[int]) -> None:
        """`group` fails together: split it until each failing tenant is alone."""
        if len(group) <= 1:
            return
        half = len(group) // 2
        for part in (group[:half], group[half:]):
            if not builds(part):
                search(part)

    everyone = sorted(set(tenant_ids))
    held = sorted(set(suspects) & set(everyone))
    if held and len(held) < len(everyone) and builds(sorted(set(everyone) - set(held))):
        if len(held) == 1:  # every tenant failed, every tenant but this one built
            found.failing[held[0]] = str(failure)
        else:
            search(held)
    elif len(everyone) == 1:
        builds(everyone)
    else:
        search(everyone)
    if set(found.failing) == set(everyone) and not builds([]):
        raise failure
    if not found.failing:  # it failed with every tenant and built in every part: not the data's doing
        raise failure
    return found


def settle(
    wh: Warehouse,
    *,
    built: Sequence[int],
    failing: Mapping[int, str],
    ledger_from: int,
    consumed: str | None,
    build_id: int,
    now: datetime,
) -> None:
    """Record a build's outcome per tenant (inside its success transaction): the `built` tenants are
    held no more; the `failing` ones are held from the earliest point not yet built for them."""
    for tenant_id in built:
        wh.execute("DELETE FROM cdp.held_tenants WHERE tenant_id = ?", (tenant_id,))
    earlier = held(wh)
    for tenant_id, error in failing.items():
        before = earlier.get(tenant_id)
        if before is None:
            wh.execute(
                "INSERT INTO cdp.held_tenants (tenant_id, since_seq, fct_consumed, held_at, build_id, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (tenant_id, ledger_from, _timestamp(consumed), now, build_id, error),
            )
        else:
            wh.execute(
                "UPDATE cdp.held_tenants SET since_seq = ?, fct_consumed = ?, build_id = ?, error = ? "
                "WHERE tenant_id = ?",
                (
                    min(before.since_seq, ledger_from),
                    _timestamp(_earliest(before.fct_consumed, consumed)),
                    build_id,
                    error,
                    tenant_id,
                ),
            )


def failed_tenants_json(failing: Mapping[int, str], names: Mapping[int, str]) -> str | None:
    """cdp.build_runs.failed_tenants: the tenants a build left out, with why."""
    if not failing:
        return None
    return json.dumps(
        [{"tenant_id": t, "tenant": names.get(t, str(t)), "error": failing[t]} for t in sorted(failing)],
        sort_keys=True,
    )


def held_by_tenant(wh: Warehouse) -> dict[int, dict[str, Any]]:
    """Per held tenant: since when builds leave it out, and the last error its data gave."""
    rows = wh.query("SELECT tenant_id, held_at, error FROM cdp.held_tenants")
    return {int(r[0]): {"since": r[1].isoformat(), "error": str(r[2])} for r in rows}


def _earliest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None  # None: revenue_daily had read nothing, so everything is read again
    return min(a, b, key=datetime.fromisoformat)


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
