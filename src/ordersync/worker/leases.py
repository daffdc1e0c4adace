"""Tenant leases: one worker syncs a tenant at a time; a dead worker's leases expire and others take
its tenants over. Leases use the real clock (they are about processes being alive), not the
injectable one that drives schedules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from ordersync.warehouse import Warehouse


def _now() -> datetime:
    return datetime.now(UTC)


class LeaseKeeper:
    """Holds this worker's leases on its own connection (thread-safe), and renews them."""

    def __init__(self, wh: Warehouse, worker_id: str, ttl_seconds: float) -> None:
        self.wh = wh
        self.worker_id = worker_id
        self.ttl = timedelta(seconds=ttl_seconds)
        self.held: set[int] = set()
        self._lock = threading.Lock()

    def acquire(self, tenant_id: int) -> bool:
        """Take the tenant's lease if it is free, expired, or already ours."""
        now = _now()
        with self._lock:
            self.wh.execute(
                "INSERT INTO cdp.tenant_leases (tenant_id, worker_id, lease_until, acquired_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET "
                "worker_id = excluded.worker_id, lease_until = excluded.lease_until, "
                "acquired_at = excluded.acquired_at "
                "WHERE cdp.tenant_leases.lease_until < excluded.acquired_at "
                "OR cdp.tenant_leases.worker_id = excluded.worker_id",
                (tenant_id, self.worker_id, now + self.ttl, now),
            )
            owner = self.wh.scalar("SELECT worker_id FROM cdp.tenant_leases WHERE tenant_id = ?", (tenant_id,))
            if owner == self.worker_id:
                self.held.add(tenant_id)
                return True
            return False

    def renew(self) -> list[int]:
        """Extend every lease still ours; returns the tenants whose lease was lost."""
        now = _now()
        lost: list[int] = []
        with self._lock:
            for tenant_id in sorted(self.held):
                self.wh.execute(
                    "UPDATE cdp.tenant_leases SET lease_until = ? WHERE tenant_id = ? AND worker_id = ?",
                    (now + self.ttl, tenant_id, self.worker_id),
                )
                owner = self.wh.scalar(
                    "SELECT worker_id FROM cdp.tenant_leases WHERE tenant_id = ?", (tenant_id,)
                )
                if owner != self.worker_id:
                    lost.append(tenant_id)
                    self.held.discard(tenant_id)
        return lost

    def release(self, tenant_id: int) -> None:
        with self._lock:
            self.wh.execute(
                "DELETE FROM cdp.tenant_leases WHERE tenant_id = ? AND worker_id = ?", (tenant_id, self.worker_id)
            )
            self.held.discard(tenant_id)

    def release_all(self) -> None:
        for tenant_id in list(self.held):
            self.release(tenant_id)
