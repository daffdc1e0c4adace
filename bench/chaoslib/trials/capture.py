"""What the change-capture trials (feed, hook) check at the end: every order the store changed
after capture was configured is built as the store has it, once; nothing else landed."""

from __future__ import annotations

from datetime import datetime, timedelta

from chaoslib import checks, sources
from chaoslib.model import TrialResult
from chaoslib.warehouses import WarehouseHandle
from ordersync.simulator.server import RunningSimulator


def check_changed_since(
    result: TrialResult, wh: WarehouseHandle, sim: RunningSimulator, account: str, since: datetime, source: str
) -> None:
    """Every order whose lastChange is after `since` is built as the store has it; those within a
    millisecond of it (the format's precision) may be built or not; nothing else is, nothing but
    `source` landed, nothing was quarantined."""
    margin = timedelta(milliseconds=1)
    truth = checks.truth_rows(sources.truth(sim, account))
    changed = {oid: row for oid, row in truth.items() if row[2] > since - margin}
    boundary = {oid for oid, row in changed.items() if row[2] <= since + margin}
    with wh.connect() as reader:
        state = checks.check_tenant(reader, account, changed, either=boundary)
        tid = checks.tenant_id(reader, account)
        held = reader.query("SELECT reason FROM cdp.quarantine WHERE tenant_id = ?", (tid,))
        landed_from = {r[0] for r in reader.query("SELECT DISTINCT source FROM cdp.orders_landing")}
    result.orders_checked += state.checked
    result.versions_lost += state.lost
    result.versions_doubled += state.doubled
    result.failures += state.problems
    if not changed:
        result.fail(f"no order changed after the {source} was configured: the trial checked nothing")
    if held:
        result.fail(f"{len(held)} records quarantined, e.g. {held[0][0][:200]}")
    if landed_from - {source}:
        result.fail(f"versions landed from {sorted(landed_from - {source})}: only the {source} may land here")
