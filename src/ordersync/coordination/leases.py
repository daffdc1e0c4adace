"""Fenced leases per (tenant, stream): one process runs a stream of a tenant at a time.

A lease row holds a fencing `token` that grows by one at every acquisition and is never reset. A run
writes only inside transactions that check its token (`Fence.check`), so a run that lost its lease,
whatever the reason (it stalled past its time, its renew failed, its host's clock lied), can neither
land another row nor move a checkpoint: once anybody else acquired the lease the token differs, and
once the lease ran out nobody's check passes until it is acquired again.

Lease times are the warehouse's clock, never a host's. On PostgreSQL the check is an UPDATE of the
lease row, so it holds that row's lock until the landing commits: a takeover waits for the commit and
can never slip between the check and the commit. DuckDB allows one writing process; there the check,
acquisitions and renewals of one database file take turns on a process-wide lock, which also keeps
DuckDB's optimistic concurrency from failing a landing because a renew touched the row meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ordersync import metrics
from ordersync.errors import (
    ConnectionLostError,
    LeaseLostError,
    OrdersyncError,
    TenantBusyError,
    TransientWarehouseError,
)
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import holding, local_lock

log = logging.getLogger("ordersync.leases")

PULL = "pull"  # the stream of scheduled and manual pull syncs
LOCK_TIMEOUT_MS = 2000


def holder_name(prefix: str) -> str:
    """host:pid:prefix - the host and pid let a successor on the same host see that it is dead."""
    return f"{socket.gethostname()}:{os.getpid()}:{prefix}"


def dead_on_this_host(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Lease:
    tenant_id: int
    stream: str
    holder: str
    token: int
    lost: bool = False


class Fence:
    """What a run checks inside each of its writing transactions (see the module docstring)."""

    def __init__(self, lease: Lease, wh: Warehouse) -> None:
        self.lease = lease
        self._lock = local_lock(wh, "leases")

    @property
    def token(self) -> int | None:
        """The fencing token the run writes under (recorded in its run log row)."""
        return self.lease.token

    @contextlib.contextmanager
    def transaction(self, wh: Warehouse) -> Iterator[None]:
        """A writing transaction that commits only while the lease holds. The check comes last, just
        before the commit: a run that stalls anywhere before it is refused when it resumes, and on
        PostgreSQL the lease row stays locked only for the moment between check and commit."""
        with self.guard(), wh.transaction():
            yield
            self.check(wh)

    @contextlib.contextmanager
    def lasting_transaction(self, wh: Warehouse) -> Iterator[None]:
        """A writing transaction that may outlast the lease's time to live, while its lease is
        renewed (LeaseKeeper.renewing): unlike transaction(), the guard is held only for the check
        and the commit, so renewals (and, on DuckDB, other tenants' landings) go on meanwhile. A
        DuckDB transaction reads the lease row and the clock as they were when it began, so there
        the check runs in a transaction of its own on another connection; under the guard nothing
        can take the lease between that check and the commit."""
        with contextlib.ExitStack() as held, wh.transaction():
            yield
            held.enter_context(self.guard())  # released after the commit below
            if wh.concurrent_writers:
                self.check(wh)
            else:
                own = wh.fork()
                try:
                    with own.transaction():
                        self.check(own)
                finally:
                    own.close()

    def raise_if_lost(self) -> None:
        """Raise LeaseLostError when a renewal found the lease lost (no query: a run calls it
        between its steps, to stop early; the check before the commit is what fences it)."""
        if self.lease.lost:
            self._refuse()

    def _refuse(self) -> None:
        lease = self.lease
        raise LeaseLostError(
            f"this run lost its lease on tenant {lease.tenant_id} ({lease.stream}, token {lease.token}): "
            "it stalled past its lease or its renewals failed, and the tenant may have been taken over; "
            "nothing it wrote after that is kept, and the next run carries on"
        )

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Wrap the whole writing transaction (DuckDB: takes the file's lease lock first)."""
        with holding(self._lock):
            yield

    def check(self, wh: Warehouse) -> None:
        """Raise LeaseLostError unless the lease is still this run's and unexpired. Call inside the
        writing transaction, within guard(); transaction() does both."""
        lease = self.lease
        if not lease.lost:
            # UPDATE, not SELECT: on PostgreSQL it keeps the row locked until this transaction ends.
            rows = wh.query(
                "UPDATE cdp.leases SET token = token WHERE tenant_id = ? AND stream = ? AND holder = ? "
                f"AND token = ? AND lease_until > {wh.now_sql} RETURNING token",
                (lease.tenant_id, lease.stream, lease.holder, lease.token),
            )
            if rows:
                return
            lease.lost = True
        self._refuse()


class NoFence(Fence):
    """For writers that own no stream state (files, pushes): nothing to check."""

    def __init__(self) -> None:
        self._lock = None

    @property
    def token(self) -> int | None:
        return None

    def check(self, wh: Warehouse) -> None:
        return None

    def raise_if_lost(self) -> None:
        return None


class LeaseKeeper:
    """Takes, renews and releases leases on its own connection (thread-safe)."""

    def __init__(self, wh: Warehouse, holder: str, ttl_seconds: float) -> None:
        self.wh = wh
        self.holder = holder
        self.ttl = float(ttl_seconds)
        self._lock = threading.Lock()
        self._local = local_lock(wh, "leases")

    def _call(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return self._locked_query(sql, params)
        except ConnectionLostError:
            self.wh.reopen()
            return self._locked_query(sql, params)

    def _locked_query(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        # A holder stopped between its fence check and its commit keeps the lease row locked; the
        # others give up after a moment (LockNotAvailable, transient) instead of hanging with it.
        with self.wh.transaction():
            if self.wh.concurrent_writers:
                self.wh.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
            return self.wh.query(sql, params)

    def acquire(self, tenant_id: int, stream: str = PULL) -> Lease | None:
        """Take the lease if it is free, expired, held by a process known dead on this host, or ours;
        each acquisition gets a new token. A previous holder's runs left 'running' are marked
        abandoned, since nobody can be running them any more."""
        try:
            return self._acquire(tenant_id, stream)
        except TransientWarehouseError as exc:  # the row is locked by a holder mid-commit: it is busy
            log.info("lease on tenant %s (%s) not taken now: %s", tenant_id, stream, exc)
            return None

    def _acquire(self, tenant_id: int, stream: str) -> Lease | None:
        now = self.wh.now_sql
        with self._lock, holding(self._local):
            rows = self._call(
                "INSERT INTO cdp.leases (tenant_id, stream, holder, token, lease_until, acquired_at) "
                f"VALUES (?, ?, ?, 1, {now} + CAST(? AS DOUBLE PRECISION) * INTERVAL '1 second', {now}) "
                "ON CONFLICT (tenant_id, stream) DO UPDATE SET holder = excluded.holder, "
                "token = cdp.leases.token + 1, lease_until = excluded.lease_until, "
                "acquired_at = excluded.acquired_at "
                "WHERE cdp.leases.holder IS NULL OR cdp.leases.holder = excluded.holder "
                "RETURNING holder, token",
                (tenant_id, stream, self.holder, self.ttl),
            )
            if not rows:  # held by another: a take-over when its lease ran out or its process is gone
                rows = self._take_over(tenant_id, stream, f"lease_until < {now}", ())
            if not rows:
                owner = self.owner(tenant_id, stream)
                if owner is None or not dead_on_this_host(owner):
                    return None
                # its process is gone: no need to wait for the lease to run out
                rows = self._take_over(tenant_id, stream, "holder = ?", (owner,))
                if not rows:
                    return None
            token = int(rows[0][1])  # type: ignore[call-overload]
            if stream == PULL:
                self._call(
                    "UPDATE cdp.sync_runs SET status = 'abandoned', "
                    "error = 'its process stopped or lost its lease before finishing; the tenant was taken over' "
                    "WHERE tenant_id = ? AND status = 'running' RETURNING run_id",
                    (tenant_id,),
                )
            return Lease(tenant_id, stream, self.holder, token)

    def _take_over(
        self, tenant_id: int, stream: str, condition: str, params: tuple[object, ...]
    ) -> list[tuple[object, ...]]:
        """Take the lease from another holder where `condition` holds; counted once here."""
        now = self.wh.now_sql
        rows = self._call(
            "UPDATE cdp.leases SET holder = ?, token = token + 1, "
            f"lease_until = {now} + CAST(? AS DOUBLE PRECISION) * INTERVAL '1 second', acquired_at = {now} "
            f"WHERE tenant_id = ? AND stream = ? AND holder IS NOT NULL AND {condition} RETURNING holder, token",
            (self.holder, self.ttl, tenant_id, stream, *params),
        )
        if rows:
            metrics.lease_takeover(stream)
        return rows

    def owner(self, tenant_id: int, stream: str = PULL) -> str | None:
        value = self.wh.scalar(
            f"SELECT holder FROM cdp.leases WHERE tenant_id = ? AND stream = ? AND lease_until >= {self.wh.now_sql}",
            (tenant_id, stream),
        )
        return None if value is None else str(value)

    def renew(self, lease: Lease) -> bool:
        """Extend the lease if it is still ours; False (and the lease marked lost) when it was lost."""
        with self._lock, holding(self._local):
            rows = self._call(
                "UPDATE cdp.leases SET "
                f"lease_until = {self.wh.now_sql} + CAST(? AS DOUBLE PRECISION) * INTERVAL '1 second' "
                "WHERE tenant_id = ? AND stream = ? AND holder = ? AND token = ? "
                f"AND lease_until > {self.wh.now_sql} RETURNING token",
                (self.ttl, lease.tenant_id, lease.stream, lease.holder, lease.token),
            )
        if not rows:
            lease.lost = True
        return bool(rows)

    def release(self, lease: Lease) -> None:
        """Free the lease (the row and its token stay, so the token keeps growing)."""
        with self._lock, holding(self._local):
            self._call(
                f"UPDATE cdp.leases SET holder = NULL, lease_until = {self.wh.now_sql} "
                "WHERE tenant_id = ? AND stream = ? AND holder = ? AND token = ? RETURNING token",
                (lease.tenant_id, lease.stream, lease.holder, lease.token),
            )

    def _beat(self, lease: Lease) -> None:
        """One renewal of a held lease; a failed one is retried at the next beat, and a lease found
        lost stays lost (the run's next write is refused by its fence)."""
        try:
            if not self.renew(lease):
                log.warning("lease on tenant %s (%s) was lost", lease.tenant_id, lease.stream)
        except OrdersyncError as exc:
            log.warning("renewing the lease on tenant %s failed: %s", lease.tenant_id, exc)

    async def _renew_until_lost(self, lease: Lease) -> None:
        """Renew every third of the time to live."""
        while not lease.lost:
            await asyncio.sleep(self.ttl / 3)
            await asyncio.to_thread(self._beat, lease)

    @contextlib.contextmanager
    def renewing(self, lease: Lease) -> Iterator[Lease]:
        """Renew `lease` every third of the time to live from a thread while the body runs: hold()'s
        renewals for a run that blocks (the customers of a tenant), not one on an event loop."""
        stop = threading.Event()

        def beat() -> None:
            while not lease.lost and not stop.wait(self.ttl / 3):
                self._beat(lease)

        thread = threading.Thread(target=beat, name=f"lease {lease.tenant_id} {lease.stream}", daemon=True)
        thread.start()
        try:
            yield lease
        finally:
            stop.set()
            thread.join()

    @asynccontextmanager
    async def hold(self, tenant_id: int, tenant_name: str, stream: str = PULL) -> AsyncIterator[Lease]:
        """Hold the lease for the body, renewing it in the background."""
        lease = await asyncio.to_thread(self.acquire, tenant_id, stream)
        if lease is None:
            owner = await asyncio.to_thread(self.owner, tenant_id, stream)
            raise TenantBusyError(
                f"tenant {tenant_name} is being synced by {owner or 'another process'}; "
                "it is skipped now and synced when free"
            )
        task = asyncio.create_task(self._renew_until_lost(lease))
        try:
            yield lease
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if not lease.lost:
                try:
                    await asyncio.to_thread(self.release, lease)
                except OrdersyncError as exc:  # it runs out by itself
                    log.warning("releasing the lease on tenant %s failed: %s", tenant_id, exc)
