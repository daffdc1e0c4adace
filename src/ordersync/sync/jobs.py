"""One orchestration path for sync runs: bounded parallel, retried, isolated.

`ordersync sync` over several tenants and every worker tick run their jobs through `run_jobs`: at
most `concurrency` tenants at once, each on a warehouse connection of its own, transient failures
retried with backoff (a lost connection is reopened first), and nothing one tenant raises, expected
or not, stops the others: it becomes that tenant's failed outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ordersync.errors import RETRYABLE_ERRORS, ConnectionLostError, OrdersyncError
from ordersync.outcomes import RunStatus
from ordersync.sources.http.retry import backoff
from ordersync.sync.engine import SyncOutcome
from ordersync.sync.runs import RunCounters
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync.jobs")


@dataclass(frozen=True)
class Job:
    tenant: Tenant
    mode: str
    historical_batches: int | None = None
    #: checked again under the lease (given the tenant as it is then): False skips the run
    still_due: Callable[[Tenant], bool] | None = None


@dataclass(frozen=True)
class JobPolicy:
    concurrency: int = 4
    attempts: int = 3
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 300.0


class RunOne(Protocol):
    """What runs one attempt: `TenantRunner`'s shape (sync/tenant_run.py)."""

    def __call__(
        self,
        tenant: Tenant,
        mode: str,
        *,
        wh: Warehouse,
        historical_batches: int | None,
        attempt: int,
        still_due: Callable[[Tenant], bool] | None,
    ) -> Awaitable[SyncOutcome]: ...


def retryable(outcome: SyncOutcome) -> bool:
    return outcome.status is RunStatus.FAILED and isinstance(outcome.exception, RETRYABLE_ERRORS)


def crashed(job: Job, exc: BaseException, began: float) -> SyncOutcome:
    """A failed outcome for an error raised out of a run: ordersync's own errors say what they are;
    anything else (a bug) is named as unexpected, never swallowed silently."""
    message = str(exc) if isinstance(exc, OrdersyncError) else f"unexpected error: {type(exc).__name__}: {exc}"
    return SyncOutcome(
        "",
        job.tenant.tenant_id,
        job.tenant.tenant_name,
        job.mode,
        RunStatus.FAILED,
        time.perf_counter() - began,
        RunCounters(),
        message,
        exc if isinstance(exc, Exception) else None,
    )


async def run_job(
    run_one: RunOne,
    job: Job,
    wh: Warehouse,
    policy: JobPolicy,
) -> list[SyncOutcome]:
    """Every attempt's outcome, the last one deciding; 'busy' and 'skipped' end it at once."""
    outcomes: list[SyncOutcome] = []
    for attempt in range(1, policy.attempts + 1):
        began = time.perf_counter()
        try:
            if wh.broken:
                await asyncio.to_thread(wh.reopen)
            outcome = await run_one(
                job.tenant,
                job.mode,
                wh=wh,
                historical_batches=job.historical_batches,
                attempt=attempt,
                still_due=job.still_due,
            )
        except Exception as exc:  # one tenant's failure never stops the others
            log.exception(
                "tenant %s: %s sync crashed", job.tenant.tenant_name, job.mode, extra={"tenant": job.tenant.tenant_name}
            )
            outcome = crashed(job, exc, began)
        outcomes.append(outcome)
        if not retryable(outcome) or attempt == policy.attempts:
            break
        if isinstance(outcome.exception, ConnectionLostError):
            await asyncio.to_thread(_reopen_quietly, wh)
        await asyncio.sleep(backoff(policy.backoff_seconds, attempt, policy.max_backoff_seconds))
    return outcomes


def _reopen_quietly(wh: Warehouse) -> None:
    try:
        wh.reopen()
    except OrdersyncError as exc:  # still down: the next attempt says so
        log.warning("reopening the warehouse connection failed: %s", exc)


async def run_jobs(
    run_one: RunOne,
    jobs: list[Job],
    fork: Callable[[], Warehouse],
    policy: JobPolicy,
) -> list[list[SyncOutcome]]:
    """Run the jobs, at most `policy.concurrency` at once; per job, every attempt's outcome."""
    sem = asyncio.Semaphore(policy.concurrency)

    async def one(job: Job) -> list[SyncOutcome]:
        async with sem:
            began = time.perf_counter()
            try:
                wh = await asyncio.to_thread(fork)
            except Exception as exc:
                return [crashed(job, exc, began)]
            try:
                return await run_job(run_one, job, wh, policy)
            finally:
                await asyncio.to_thread(_close_quietly, wh)

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def _close_quietly(wh: Warehouse) -> None:
    try:
        wh.close()
    except Exception as exc:  # a dead connection may refuse even to close
        log.debug("closing a job's connection: %s", exc)
