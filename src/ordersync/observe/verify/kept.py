"""The `summaries` check: the tenant summaries (observe/summaries.py) against a full scan of
cdp.orders_landing, over every batch they say they have consumed."""

from __future__ import annotations

from typing import Any

from ordersync.land import ledger
from ordersync.observe import summaries
from ordersync.observe.verify.results import EXAMPLES, CheckResult
from ordersync.outcomes import CheckStatus
from ordersync.warehouse import Warehouse

#: the three views summaries.stored() gives, and how many leading columns make each row's key
_VIEWS = (("tenant totals", 1), ("days by source", 3), ("orders by day", 2))


def _plain(value: Any) -> Any:
    """A figure as both warehouses give it alike (sums come back as decimals from PostgreSQL)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def check(wh: Warehouse, tenant_ids: set[int] | None) -> CheckResult:
    """Every row the summaries hold equals the full scan's, and no row is missing from either:
    of `tenant_ids` (every tenant's when None)."""
    upto = ledger.cursor(wh, summaries.CONSUMER)
    with wh.building():  # a scan of every version: on DuckDB, with a build's memory
        kept, scanned = summaries.stored(wh), summaries.full_scan(wh, upto)
    differ: list[str] = []
    rows = 0
    for (view, width), mine, truth in zip(_VIEWS, kept, scanned, strict=True):
        a, b = {r[:width]: r for r in mine}, {r[:width]: r for r in truth}
        for key in sorted(a.keys() | b.keys(), key=str):
            if tenant_ids is not None and int(key[0]) not in tenant_ids:
                continue
            rows += 1
            left = tuple(map(_plain, a[key])) if key in a else None
            right = tuple(map(_plain, b[key])) if key in b else None
            if left != right:
                differ.append(f"{view} {'/'.join(str(k) for k in key)}: kept {left}, scanned {right}")
    figures = {"ledger_seq": upto, "rows_compared": rows, "rows_differing": len(differ)}
    summary = f"{rows} summary rows up to ledger seq {upto} against a full scan of the landed versions"
    if differ:
        more = f"; and {len(differ) - EXAMPLES} more" if len(differ) > EXAMPLES else ""
        shown = "; ".join(differ[:EXAMPLES]) + more
        return CheckResult(
            "summaries",
            CheckStatus.FAIL,
            f"{summary}: {len(differ)} differ ({shown}); a refresh cannot mend this: report it",
            figures=figures,
        )
    return CheckResult("summaries", CheckStatus.PASS, f"{summary}: all equal", figures=figures)
