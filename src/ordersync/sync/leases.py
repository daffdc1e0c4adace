"""Tenant leases: one process syncs a tenant at a time (a worker, or a manual `ordersync sync`); a
dead process's leases expire and others take its tenants over. Leases use the real clock (they are
about processes being alive), not the injectable one that drives schedules."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from ordersync.errors import TenantBusyError
from ordersync.warehouse import Warehouse


def _now() -> datetime:
    return datetime.now(UTC)


def holder_name(prefix: str) -> str:
    """host:pid:prefix - the host and pid let a successor on the same host see that it is dead."""
    return f"{socket.gethostname()}:{os.getpid()}:{prefix}"


def _dead_on_this_host(holder: str) -> bool:
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


class LeaseKeeper:
    """Takes, renews and releases leases on its own connection (thread-safe)."""

    def __init__(self, wh: Warehouse, holder: str, ttl_seconds: float) -> None:
        self.wh = wh
        self.holder = holder
        self.ttl = timedelta(seconds=ttl_seconds)
        self._lock = threading.Lock()

    def acquire(self, tenant_id: int) -> bool:
        """Take the tenant's lease if it is free, expired, or already ours. A dead holder's runs
        left 'running' are marked abandoned, since nobody can be running them any more."""
        now = _now()
        with self._lock:
            self.wh.execute(
                "INSERT INTO cdp.tenant_leases (tenant_id, worker_id, lease_until, acquired_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET "
                "worker_id = excluded.worker_id, lease_until = excluded.lease_until, "
                "acquired_at = excluded.acquired_at "
                "WHERE cdp.tenant_leases.lease_until < excluded.acquired_at "
                "OR cdp.tenant_leases.worker_id = excluded.worker_id",
                (tenant_id, self.holder, now + self.ttl, now),
            )
            owner = self.owner(tenant_id)
            if owner is not None and owner != self.holder and _dead_on_this_host(owner):
                # its process is gone: no need to wait for the lease to run out
                self.wh.execute(
                    "UPDATE cdp.tenant_leases SET worker_id = ?, lease_until = ?, acquired_at = ? "
                    "WHERE tenant_id = ? AND worker_id = ?",
                    (self.holder, now + self.ttl, now, tenant_id, owner),
                )
                owner = self.owner(tenant_id)
            if owner != self.holder:
                return False
            self.wh.execute(
                "UPDATE cdp.sync_runs SET status = 'abandoned', "
                "error = 'its process stopped before finishing; the tenant was taken over' "
                "WHERE tenant_id = ? AND status = 'running'",
                (tenant_id,),
            )
            return True

    def owner(self, tenant_id: int) -> str | None:
        value = self.wh.scalar("SELECT worker_id FROM cdp.tenant_leases WHERE tenant_id = ?", (tenant_id,))
        return None if value is None else str(value)

    def renew(self, tenant_id: int) -> bool:
        """Extend the lease if it is still ours; False when it was lost."""
        with self._lock:
            self.wh.execute(
                "UPDATE cdp.tenant_leases SET lease_until = ? WHERE tenant_id = ? AND worker_id = ?",
                (_now() + self.ttl, tenant_id, self.holder),
            )
            return self.owner(tenant_id) == self.holder

    def release(self, tenant_id: int) -> None:
        with self._lock:
            self.wh.execute(
                "DELETE FROM cdp.tenant_leases WHERE tenant_id = ? AND worker_id = ?",
                (tenant_id, self.holder),
            )

    @asynccontextmanager
    async def hold(self, tenant_id: int, tenant_name: str) -> AsyncIterator[None]:
        """Hold the tenant's lease for the body, renewing it every third of its time to live."""
        if not await asyncio.to_thread(self.acquire, tenant_id):
            owner = await asyncio.to_thread(self.owner, tenant_id)
            raise TenantBusyError(
                f"tenant {tenant_name} is being synced by {owner}; it is skipped now and synced when free"
            )

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.ttl.total_seconds() / 3)
                await asyncio.to_thread(self.renew, tenant_id)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(self.release, tenant_id)
