"""Where `ordersync serve`'s requests reach the warehouse, and what they know without reaching it.

- On PostgreSQL each request borrows a facade (one connection) from a pool of `[serve] pool_size`:
  pushes for different tenants land in parallel, and a build (dbt on its own connections) or a
  background loop holding the serve's lock never makes a request wait.
- On DuckDB (one writer) there is one connection and one lock: a request takes it only for its
  warehouse work (the token lookup, the write), never while it reads or parses a body; a build
  takes it to have the file to itself.
- Reads (the API's and the pages') take a connection of a pool of their own on both backends, never
  the lock nor the requests' pool: they do not queue behind pushes, builds or worker ticks (on
  DuckDB a reading connection shares the process's database instance and reads the last commit,
  whatever another connection is writing).
- Reads that show what landed (status, lateness) find the tenant summaries as serve's counting
  loop last refreshed them, a few seconds behind at most, and say when (observe/summaries.Keeper).
- `Vitals` is what the background loops and requests last saw of the warehouse, so `/v1/health`
  answers without touching it; `HookSecrets` keeps every tenant's hook secret hash in memory, so a
  hook notification is answered without waiting for a build.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio

from ordersync.errors import ConfigError, NotFoundError, OrdersyncError, RefusedError, TransientWarehouseError
from ordersync.facade import Ordersync
from ordersync.observe import summaries

T = TypeVar("T")
log = logging.getLogger("ordersync.serve")
#: DuckDB: how long a hook secret check waits for the lock (a push's write, a hook round) before it
#: answers from memory; VTEX gives a notification 5 s.
SECRET_WAIT_SECONDS = 2.0


@dataclass
class Vitals:
    """The warehouse as last seen (monotonic seconds), kept by every successful or lost contact."""

    schema_version: int | None = None
    last_ok: float | None = None
    last_lost: float | None = None

    def ok(self) -> None:
        self.last_ok = time.monotonic()

    def lost(self) -> None:
        self.last_lost = time.monotonic()

    @property
    def reachable(self) -> bool:
        return self.last_ok is not None and (self.last_lost is None or self.last_ok >= self.last_lost)


class Pool:
    """Facades of one connection each, made on first need, at most `size` of them; a borrower
    waits for a free one. A facade whose call failed is reconnected before anyone borrows it again."""

    def __init__(self, make: Callable[[], Ordersync], size: int) -> None:
        self._make = make
        self._free: queue.LifoQueue[Ordersync] = queue.LifoQueue()
        self._made: list[Ordersync] = []
        self._size = size
        self._guard = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Ordersync]:
        app = self._take()
        try:
            yield app
        except BaseException:
            app.reconnect()  # whatever it was, the next borrower gets a clean connection
            raise
        finally:
            self._free.put(app)

    def _take(self) -> Ordersync:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._guard:
            if len(self._made) < self._size:
                app = self._make()
                self._made.append(app)
                return app
        return self._free.get()

    def close(self) -> None:
        with self._guard:
            for app in self._made:
                app.close()


class Gate:
    """The serve's facade behind its lock (the background loops', and DuckDB requests'), and on
    PostgreSQL the requests' pool."""

    def __init__(
        self,
        app: Ordersync,
        *,
        pool_size: int = 1,
        lock: threading.Lock | None = None,
        keeper: summaries.Keeper | None = None,
    ) -> None:
        self.app = app
        self.lock = lock or threading.Lock()
        self.vitals = Vitals()
        #: set while the lock is held for long work (a build, a worker tick): checks answer from memory
        self.long_work = threading.Event()
        self.pool: Pool | None = None
        self.pool_size = pool_size
        if app.settings.warehouse.is_postgres:
            self.pool = Pool(lambda: self._facade(None), pool_size)
        # reads find the summaries as `keeper`'s loop left them (serve's), else refresh them themselves
        self.readers = Pool(lambda: self._facade(keeper), max(2, pool_size))
        #: the worker threads reads may hold at once: no more than their connections
        self.read_share = anyio.CapacityLimiter(max(2, pool_size))

    def _facade(self, keeper: summaries.Keeper | None) -> Ordersync:
        """Another facade like the serve's, sharing its answers about past moments."""
        app = self.app
        return Ordersync(
            app.settings,
            clock=app.clock,
            worker_id=app.worker_id,
            past=app.past,
            past_diffs=app.past_diffs,
            keeper=keeper,
        )

    def locked(self, fn: Callable[[Ordersync], T]) -> T:
        """`fn` on the serve's facade under the lock, in this thread."""
        with self.lock:
            return self.through(fn)

    def pooled(self, fn: Callable[[Ordersync], T]) -> T:
        """`fn` on a connection of the requests' own (PostgreSQL), else under the lock."""
        if self.pool is None:
            return self.locked(fn)
        with self.pool.borrow() as app:
            return self.through(fn, app)

    def reading(self, fn: Callable[[Ordersync], T]) -> T:
        """`fn` on a reading connection of its own (never the lock), in this thread. An answer the
        caller asked for (no such tenant, a bad cursor, not allowed) keeps the connection: only a
        failure of the warehouse or the code has it reopened."""
        refused: OrdersyncError | None = None
        with self.readers.borrow() as app:
            try:
                return self.through(fn, app)
            except (NotFoundError, ConfigError, RefusedError) as exc:
                refused = exc
        assert refused is not None  # the block either returned or kept the refusal
        raise refused

    async def read(self, fn: Callable[[Ordersync], T]) -> T:
        """A read's warehouse work, in a worker thread, on a reading connection."""
        return await anyio.to_thread.run_sync(self.reading, fn, limiter=self.read_share)

    async def request(self, fn: Callable[[Ordersync], T], limiter: anyio.CapacityLimiter | None = None) -> T:
        """A request's warehouse work, in a worker thread (one of `limiter`'s, when given)."""
        return await anyio.to_thread.run_sync(self.pooled, fn, limiter=limiter)

    @property
    def tenant_share(self) -> int:
        """Requests of one tenant in the warehouse or parsing at once: half the pool, so whatever
        one tenant sends, the others find connections (and worker threads) free."""
        return max(1, self.pool_size // 2)

    def through(self, fn: Callable[[Ordersync], T], app: Ordersync | None = None) -> T:
        """`fn` on `app` (the serve's facade: the caller holds the lock), noted in the vitals."""
        app = app or self.app
        try:
            value = fn(app)
        except TransientWarehouseError:
            self.vitals.lost()
            raise
        self.vitals.ok()
        return value

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.readers.close()
        with self.lock:
            self.app.close()


#: (tenant_id, hook secret hash or None) by tenant name
SecretTable = dict[str, tuple[int, str | None]]


def read_hook_secrets(app: Ordersync) -> SecretTable:
    return app.hook_secrets()


def read_hook_secret(app: Ordersync, tenant: str) -> tuple[int, str | None] | None:
    return app.hook_secrets(tenant).get(tenant)


class HookSecrets:
    """Every tenant's hook secret hash, for checks that never wait for a build. On PostgreSQL each
    check reads the current hash through the pool (one indexed row). On DuckDB, where a build
    holds the file for seconds, a check reads it under the writer lock unless a build or a worker
    tick holds it (or it stays held for SECRET_WAIT_SECONDS), and then answers from the table in
    memory: loaded at start, reloaded after every command forwarded to serve (a `hook setup
    --force` among them) and by the background loop."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self._table: SecretTable = {}

    def reload(self) -> None:
        """Read every tenant's hash (on DuckDB under the lock, taken here)."""
        self._table = self.gate.pooled(read_hook_secrets)

    def reload_held(self) -> None:
        """reload() by a caller that already holds the serve's lock."""
        self._table = self.gate.through(read_hook_secrets)

    def lookup(self, tenant: str) -> tuple[int, str | None] | None:
        """(tenant_id, hash), or None for no such tenant."""
        if self.gate.pool is None:
            # wait for a write or a hook round, never for a build or a worker tick
            waits = not self.gate.long_work.is_set()
            if not self.gate.lock.acquire(timeout=SECRET_WAIT_SECONDS if waits else 0):
                return self._table.get(tenant)
            try:
                found = self.gate.through(lambda app: read_hook_secret(app, tenant))
            except OrdersyncError as exc:
                log.warning("hook secret check answered from memory, the warehouse failed: %s", exc)
                return self._table.get(tenant)
            finally:
                self.gate.lock.release()
        else:
            found = self.gate.pooled(lambda app: read_hook_secret(app, tenant))
        if found is None:
            self._table.pop(tenant, None)
        else:
            self._table[tenant] = found
        return found

    async def check(self, tenant: str) -> tuple[int, str | None] | None:
        return await anyio.to_thread.run_sync(self.lookup, tenant)
