"""`verify`: the seed's verification as one command, one result per check with its figures.

The checks are in checks.py (dbt_tests, source, lateness) and audits.py (latest_versions,
revenue_daily, full_refresh). A check passes, warns, fails, errs (it could not be completed: the
source did not answer, dbt did not start) or is skipped with its reason (there is nothing to ask).
The report is ok when nothing failed or erred.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ordersync.errors import ConfigError
from ordersync.observe.verify import kept
from ordersync.observe.verify.audits import full_refresh, latest_versions, revenue_daily
from ordersync.observe.verify.checks import dbt_tests, lateness, source
from ordersync.observe.verify.results import CHECKS, CheckResult, Context
from ordersync.tenants import Tenant
from ordersync.transform.buildvars import serialized_builds

#: Exit status of `ordersync verify` when a check failed or erred.
FAILED_EXIT = 1


@dataclass
class VerifyReport:
    checks: list[CheckResult]
    days: int
    tenant: str | None
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return not any(c.status.failed for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else FAILED_EXIT

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status.failed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "days": self.days,
            "tenant": self.tenant,
            "checks": [c.as_dict() for c in self.checks],
        }


def parse_checks(names: Iterable[str] | None) -> tuple[str, ...]:
    """The checks to run, in their order; every one when `names` is empty."""
    chosen = [n.strip() for n in names or () if n.strip()]
    unknown = [n for n in chosen if n not in CHECKS]
    if unknown:
        raise ConfigError(f"unknown check {', '.join(map(repr, unknown))}; use one of: {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if not chosen or c in chosen)


def run(
    ctx: Context,
    tenants: list[Tenant],
    *,
    days: int,
    tenant_name: str | None = None,
    checks: Sequence[str] | None = None,
) -> VerifyReport:
    """Run the checks (all of them by default) over `tenants`; results in CHECKS order.

    dbt runs first (on DuckDB the facade's connection is closed around it). The warehouse's own
    checks then run under the build lock (PostgreSQL): a build committing fct_orders between them
    would leave revenue_daily one model behind for a moment, which is not a fault. The source is
    asked last, outside the lock, so builds never wait on a store's answers."""
    if days < 1:
        raise ConfigError(f"days must be at least 1 (got {days})")
    wanted = parse_checks(checks)
    tenant_id = tenants[0].tenant_id if tenant_name and tenants else None
    results: dict[str, list[CheckResult]] = {}
    wh = ctx.warehouse()
    with serialized_builds(wh):
        if "dbt_tests" in wanted:
            results["dbt_tests"] = [dbt_tests(ctx)]
        wh = ctx.warehouse()
        if "latest_versions" in wanted:
            results["latest_versions"] = [latest_versions(wh, tenant_id)]
        if "revenue_daily" in wanted:
            results["revenue_daily"] = [revenue_daily(wh, ctx.settings, tenant_id)]
        if "full_refresh" in wanted:
            results["full_refresh"] = [full_refresh(wh)]
    if "lateness" in wanted:
        results["lateness"] = [lateness(wh, ctx.settings, tenants, ctx.now, days)]
    if "summaries" in wanted:
        results["summaries"] = [kept.check(wh, {tenant_id} if tenant_id is not None else None)]
    if "source" in wanted:
        results["source"] = source(wh, ctx.settings, tenants, ctx.now, days)
    ordered = [r for name in CHECKS for r in results.get(name, [])]
    return VerifyReport(ordered, days, tenant_name, ctx.now)
