"""`ordersync build`: one dbt build of the models, from the ledger seal to the build log.

Seals the landing ledger first and gives fct_orders the batches committed since the last
successful build (seq in (ledger_from, ledger_to]) besides its lookback window; the cursor moves to
ledger_to only once the build succeeded, so a failed build's batches are read again by the next
one. The days applied plans left (cdp.pending_restatements) are re-merged and recomputed, and
cleared only once the build succeeded. In production a full refresh is refused before anything
runs. When the build fails because of some tenants' data, the others are built and the build
succeeds naming the ones it left out (transform/isolation.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ordersync import metrics
from ordersync.clock import Clock
from ordersync.config import Settings
from ordersync.console import Reporter
from ordersync.coordination.leases import dead_on_this_host
from ordersync.errors import OrdersyncError, RefusedError, TransformError
from ordersync.land import ledger, withdrawals
from ordersync.outcomes import BuildStatus
from ordersync.tenants import TenantStore
from ordersync.transform import builds, isolation, restatements
from ordersync.transform.buildvars import build_vars, serialized_builds
from ordersync.transform.runner import DbtResult, run_dbt
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync")


@dataclass
class Builder:
    """Runs builds for one process: `prepare()` brings the schema up to date, `warehouse()` gives
    the open warehouse (dbt joins its connections: Warehouse.building), `holder` names the process
    in the build log."""

    prepare: Callable[[], object]
    warehouse: Callable[[], Warehouse]
    settings: Settings
    clock: Clock
    reporter: Reporter
    holder: str
    project_dir: Path | None = None

    def build(self, full_refresh: bool = False, trigger: str = "cli") -> DbtResult:
        """Run `dbt build` on the models; the build, its flags and its outcome go to cdp.build_runs."""
        settings = self.settings
        if full_refresh and settings.environment.is_production:
            raise RefusedError(
                'a full refresh is refused in production ([environment] name = "production"): '
                "fct_orders, revenue_daily and their history are never rebuilt from scratch; to redo "
                "days, draft a plan with `ordersync backfill plan --restate` and apply it once approved"
            )
        self.prepare()
        wh = self.warehouse()
        target = wh.dbt_target()
        with serialized_builds(wh):
            ledger_to = ledger.seal(wh, self.clock) or 0
            ledger_from = min(ledger.cursor(wh, ledger.FCT_ORDERS), ledger_to)
            todo = restatements.pending(wh)
            dbt_vars = build_vars(wh, settings, self.clock.now(), ledger_from, ledger_to, todo)
            held = isolation.held(wh)
            dbt_vars.update(isolation.held_vars(held))
            consumed = isolation.fct_consumed(wh)
            names = {t.tenant_id: t.tenant_name for t in TenantStore(wh).list()}
            flags = {
                "full_refresh": full_refresh,
                "lookback_days": settings.dbt.lookback_days,
                "ledger_from": ledger_from,
                "ledger_to": ledger_to,
                "restate": dbt_vars["restate"],
                "built_at": dbt_vars["built_at"],
                "environment": settings.environment.name,
            }
            builds.abandon_dead(wh, dead_on_this_host)
            build_id = builds.start(wh, "build", flags, self.holder, trigger)
            task = self.reporter.task("dbt build", total=None)
            began = time.perf_counter()
            error: str | None = None
            failing: dict[int, str] = {}

            def attempt(tenants: Mapping[str, list[int]] | None) -> DbtResult:
                return run_dbt(
                    target,
                    "build",
                    lookback_days=settings.dbt.lookback_days,
                    state_dir=Path(settings.dbt.state_dir),
                    full_refresh=full_refresh,
                    extra_vars=dbt_vars if tenants is None else isolation.part_vars(dbt_vars, tenants, consumed),
                    project_dir=self.project_dir,
                )

            try:
                with wh.building():  # dbt joins this process's connections (DuckDB: warehouse.building)
                    try:
                        result = attempt(None)
                    except TransformError as exc:  # some tenants' data? the others still build
                        found = isolation.isolate(attempt, list(names), exc, suspects=list(held))
                        result, failing = found.result, found.failing
                        log.warning("build %s left out tenants %s: %s", build_id, sorted(failing), exc)
                self._settle(dbt_vars, todo, held, failing, ledger_from, ledger_to, consumed, build_id)
                return result
            except BaseException as exc:
                error = str(exc) if isinstance(exc, OrdersyncError) else f"{type(exc).__name__}: {exc}"
                raise
            finally:
                task.close()
                status = BuildStatus.FAILED if error is not None else BuildStatus.SUCCEEDED
                metrics.build_finished(status, time.perf_counter() - began)
                try:
                    builds.finish(
                        self.warehouse(),
                        build_id,
                        status,
                        time.perf_counter() - began,
                        error,
                        isolation.failed_tenants_json(failing, names),
                    )
                except OrdersyncError as exc:  # the build's own outcome matters more than its log line
                    log.warning("could not record build %s as %s: %s", build_id, status, exc)

    def _settle(
        self,
        dbt_vars: Mapping[str, Any],
        todo: list[restatements.Restatement],
        held: Mapping[int, isolation.Held],
        failing: Mapping[int, str],
        ledger_from: int,
        ledger_to: int,
        consumed: str | None,
        build_id: int,
    ) -> None:
        """After dbt succeeded (for all but `failing`): the cursor advance, the restatements and
        withdrawals done, and the held tenants settled, in one transaction."""
        wh = self.warehouse()
        with wh.transaction():
            ledger.advance(wh, ledger.FCT_ORDERS, ledger_to, self.clock.now())
            restatements.done(wh, [r for r in todo if r.tenant_id not in failing])
            withdrawals.applied(wh, dbt_vars["withdrawals"], sorted(failing))
            isolation.settle(
                wh,
                built=[t for t in held if t not in failing],
                failing=failing,
                ledger_from=ledger_from,
                consumed=consumed,
                build_id=build_id,
                now=self.clock.now(),
            )
