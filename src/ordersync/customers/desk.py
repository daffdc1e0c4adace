"""The customers room's front: keeping every tenant's customers after a build (each under its
`customers` lease), the clock's runs (sweep, refit, full recompute), and the answers the CLI gives.
The facade holds one and delegates to it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ordersync.clock import Clock
from ordersync.config import Settings
from ordersync.coordination.leases import Fence, LeaseKeeper
from ordersync.customers.answers import key_of
from ordersync.customers.events import EventSender
from ordersync.customers.forget import Forgotten, forget, identifier_given
from ordersync.customers.identifiers import country_of_zone
from ordersync.customers.keys import IdentityKeys, check_fingerprint, load_identity_keys
from ordersync.customers.step import CustomerRun, CustomersStep, RunKind
from ordersync.errors import ConfigError, TenantBusyError
from ordersync.notify.webhooks import DeliverySummary
from ordersync.outcomes import RunStatus
from ordersync.tenants import Tenant
from ordersync.warehouse import Warehouse

log = logging.getLogger("ordersync.customers")

#: The lease stream a tenant's customers are kept under.
CUSTOMERS = "customers"


class CustomersDesk:
    def __init__(
        self,
        wh: Callable[[], Warehouse],
        settings: Settings,
        clock: Clock,
        leases: Callable[[], LeaseKeeper],
    ) -> None:
        self._wh = wh
        self.settings = settings
        self.clock = clock
        self._leases = leases
        self._keys: IdentityKeys | None = None

    @property
    def wh(self) -> Warehouse:
        return self._wh()

    def keys(self) -> IdentityKeys:
        """The identity secret's keys, checked against the warehouse's fingerprint (recorded at first use)."""
        if self._keys is None:
            cs = self.settings.customers
            keys = load_identity_keys(cs.identity_key_env, cs.identity_key_file)
            stored = self.wh.scalar("SELECT fingerprint FROM cdp.identity_secret WHERE singleton = 1")
            check_fingerprint(keys, None if stored is None else str(stored))
            if stored is None:
                self.wh.execute(
                    "INSERT INTO cdp.identity_secret (singleton, fingerprint, created_at) VALUES (1, ?, ?) "
                    "ON CONFLICT (singleton) DO NOTHING",
                    (keys.fingerprint(), self.clock.now()),
                )
            self._keys = keys
        return self._keys

    def step(self) -> CustomersStep:
        return CustomersStep(self.wh, self.settings, self.clock, self.keys())

    @contextmanager
    def _leased(self, tenant: Tenant) -> Iterator[Fence]:
        """The tenant's `customers` lease held and renewed while the block runs (a full recompute
        of a large tenant outlasts its time to live), and the fence its writes check;
        TenantBusyError when another process has it."""
        keeper = self._leases()
        lease = keeper.acquire(tenant.tenant_id, CUSTOMERS)
        if lease is None:
            raise TenantBusyError(f"another process is keeping {tenant.tenant_name}'s customers; try again shortly")
        try:
            with keeper.renewing(lease):
                yield Fence(lease, self.wh)
        finally:
            keeper.release(lease)

    def run(self, tenant: Tenant, kind: RunKind = RunKind.STEP) -> CustomerRun:
        """One run of the tenant's customers under its lease: it writes nothing once that is lost.
        On DuckDB the lease is taken and given back within the run's memory (Warehouse.building):
        a run that wrote links leaves the customers' key indexes in memory (45 MB at the seed's
        scale), and the release after it ran out of the process's 48 MB."""
        with self.wh.building(), self._leased(tenant) as fence:
            return self.step().run(tenant, kind, fence)

    def forget(
        self, tenant: Tenant, *, by: str, key: str | None = None, email: str | None = None, document: str | None = None
    ) -> Forgotten:
        """Take one person out of the tenant's data (customers/forget.py), named by exactly one of
        their key, an email or a document, under the tenant's lease."""
        if sum(v is not None for v in (key, email, document)) != 1:
            raise ConfigError("name the person by exactly one of --key, --email or --document")
        if not by.strip():
            raise ConfigError("--by must name who asked for it (it is recorded with the key)")
        country = tenant.country or country_of_zone(tenant.timezone)
        if key is None:
            key = key_of(self.wh, tenant.tenant_id, identifier_given(email, document, country))
        with self._leased(tenant):
            return forget(self.wh, tenant.tenant_id, tenant.tenant_name, key, by.strip(), self.clock.now())

    def after_build(self, tenants: Sequence[Tenant]) -> list[CustomerRun]:
        """Keep every tenant's customers after a successful build, then what the clock asks (sweep,
        refit, full). A failure is logged and left for the next build: it never fails the build."""
        if not self.settings.customers.enabled:
            return []
        done: list[CustomerRun] = []
        for tenant in tenants:
            kinds = [RunKind.STEP]
            try:
                kinds += self.step().due(tenant)
            except Exception as exc:
                log.warning("customers of %s: not kept after this build: %s", tenant.tenant_name, exc)
                done.append(CustomerRun(tenant.tenant_name, RunKind.STEP, status=RunStatus.FAILED, error=str(exc)))
                continue
            for kind in kinds:
                try:
                    run = self.run(tenant, kind)
                except TenantBusyError as exc:
                    log.info("customers of %s: %s", tenant.tenant_name, exc)
                    break
                except Exception as exc:
                    log.warning(
                        "customers of %s: %s run failed, retried after the next build: %s",
                        tenant.tenant_name,
                        kind.value,
                        exc,
                    )
                    done.append(CustomerRun(tenant.tenant_name, kind, status=RunStatus.FAILED, error=str(exc)))
                    break
                if run.status is not RunStatus.SKIPPED:
                    done.append(run)
        return done

    def deliver(self, lock: AbstractContextManager[Any] | None = None) -> DeliverySummary:
        """One delivery round of change events to `[customers] webhook_url_envs`."""
        return EventSender(lambda: self.wh, self.settings.customers, self.clock, lock=lock).deliver()
