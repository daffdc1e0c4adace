"""One process's main warehouse connection: opened on first use with its schema checked (never
changed: reading commands say to run `ordersync init` when it is behind), brought up to date by
writers under the migration lock, and dropped after a lost connection so the next use reopens it."""

from __future__ import annotations

import logging

from ordersync.config import WarehouseSettings
from ordersync.warehouse import Warehouse, migrate, open_warehouse

log = logging.getLogger("ordersync")


class WarehouseSession:
    def __init__(self, settings: WarehouseSettings, *, read_only: bool = False) -> None:
        self.settings = settings
        #: a reading command's: the DuckDB file is opened read-only, never created
        self.read_only = read_only
        self._wh: Warehouse | None = None
        self._schema_ok = False

    @property
    def wh(self) -> Warehouse:
        if self._wh is None:
            self._wh = open_warehouse(self.settings, read_only=self.read_only)
        if not self._schema_ok:
            migrate.check(self._wh)
            self._schema_ok = True
        return self._wh

    def upgrade(self) -> list[str]:
        """Migrations applied now (processes starting together on a fresh warehouse all succeed)."""
        if self._wh is None:
            self._wh = open_warehouse(self.settings)
        applied = migrate.upgrade(self._wh)
        self._schema_ok = True
        return [m.name for m in applied]

    def close(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None

    def drop(self) -> None:
        """Forget a connection that may be dead (closing it may fail too); the next use opens one."""
        try:
            if self._wh is not None:
                self._wh.close()
        except Exception as exc:  # a dead connection may refuse even to close
            log.debug("closing a lost connection: %s", exc)
        self._wh = None
