"""`ordersync serve`: the web app under uvicorn, a builder that keeps fct_orders about a minute
behind the pushes, and (on DuckDB, whose file takes one writing process) the worker's schedule.

The background loops share the gate's lock and its facade; builds run on a facade of their own
and never hold that lock (on DuckDB dbt joins the process's database instance), so requests,
hooks and the feed land during a build. On PostgreSQL requests use the gate's pool and never wait
for the loops. A pulse loop keeps what
`/v1/health` tells (the warehouse as last seen) and, on DuckDB, checkpoints the file and reloads
the hook secrets, so no request pays for either.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ordersync import metrics
from ordersync.config import ServeSettings
from ordersync.errors import OrdersyncError, TransientWarehouseError
from ordersync.facade import Ordersync
from ordersync.observe import summaries
from ordersync.secrets import scrub
from ordersync.serve.channel import ChannelServer, socket_path
from ordersync.serve.sockets import bind_socket, socket_url
from ordersync.sources.vtex.hook import Spool
from ordersync.warehouse import duckdb_path, migrate
from ordersync.warehouse.duckdb import DuckDBWarehouse
from ordersync.web.app import create_app
from ordersync.web.edges import uvicorn_config
from ordersync.web.gate import Gate, HookSecrets
from ordersync.worker.feed_loop import FeedLoop
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker

log = logging.getLogger("ordersync.serve")

#: Revision notices due for a retry go out at least this often (and after every build).
NOTICES_EVERY_SECONDS = 60.0
#: The pulse looks at the warehouse when nothing else has for this long (what /v1/health tells).
PULSE_SECONDS = 5.0
#: The tenant summaries (status, the Overview) count what landed this often: reads never do it.
COUNT_EVERY_SECONDS = 2.0
#: DuckDB: the pulse checkpoints this often, and reloads the hook secrets (commands forwarded to
#: serve reload them at once).
CHECKPOINT_EVERY_SECONDS = 30.0
SECRETS_EVERY_SECONDS = 30.0
SWITCH_INTERVAL_SECONDS = 0.0005
GC_THRESHOLDS = (20_000, 20, 20)
#: DuckDB: the WAL may grow this far before a commit checkpoints itself; the pulse does it every
#: CHECKPOINT_EVERY_SECONDS, or sooner once the WAL passes PULSE_WAL_MB. Until then what landed
#: stays in DuckDB's buffer pool, which serve holds at `[serve] duckdb_memory_limit`: with the
#: 48 MB a command needs, large payloads filled it and a commit could not finish.
CHECKPOINT_WAL_MB = 1024
PULSE_WAL_MB = 64


@dataclass
class ServeOptions:
    settings: ServeSettings
    #: run the worker's schedule in this process (default: on DuckDB only)
    worker: bool | None = None
    tick_seconds: float = 3600.0
    #: where Hook notifications wait between their 200 and the inbox (default: beside dbt's state)
    spool_path: Path | None = None


#: Runs one command line in this process and returns its exit code (the CLI's own runner, passed
#: in by `ordersync serve`, so this process never imports the CLI).
CommandRunner = Callable[[list[str]], int]


class Serve:
    def __init__(self, app: Ordersync, options: ServeOptions, run_command: CommandRunner | None = None) -> None:
        self.app = app
        self.options = options
        self.run_command = run_command
        self.keeper = summaries.Keeper()
        self.gate = Gate(app, pool_size=options.settings.pool_size, keeper=self.keeper)
        # the summaries' counting loop has a connection of its own: it never waits for the lock
        self.counter = Ordersync(app.settings, clock=app.clock, worker_id=app.worker_id)
        # Builds run on a facade of their own, outside the gate's lock: on DuckDB dbt joins this
        # process's database instance (warehouse.building), so pushes, hooks and the feed keep
        # landing during a build. What needs no build running (a worker tick, a forwarded command,
        # a checkpoint) takes this lock after the gate's, never before.
        self.build_lock = threading.Lock()
        self.builder = Ordersync(app.settings, clock=app.clock, reporter=app.reporter, worker_id=app.worker_id)
        self.stop = threading.Event()
        self._dirty = threading.Event()
        self._notices_due = threading.Event()
        # the first build comes build_every_seconds after start at the earliest, whatever the host's uptime
        self._last_build = time.monotonic()
        self._threads: list[threading.Thread] = []
        # The event loop waits for the GIL behind the threads that parse and prepare bodies; a
        # shorter switch interval than Python's 5 ms keeps health and small requests prompt
        # while a large body is prepared.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        # A full collection walks every object the process holds with every thread stopped: what
        # start-up made (modules, dbt's and pydantic's classes) is frozen out of it, and the young
        # generation is collected less often (a request's objects mostly die young anyway).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        # this process's own metrics, shown with the warehouse's at GET /metrics (observe.warehouse_metrics)
        metrics.enable()
        app.upgrade()
        if isinstance(app.wh, DuckDBWarehouse):
            app.wh.defer_checkpoints(CHECKPOINT_WAL_MB)
            app.wh.hold_memory(options.settings.duckdb_memory_limit)
        self.gate.vitals.schema_version = migrate.current_version(app.wh)
        self.gate.vitals.ok()
        self.hook_secrets = HookSecrets(self.gate)
        self.hook_secrets.reload()
        run_worker = options.worker if options.worker is not None else not app.wh.concurrent_writers
        self._worker_thread: threading.Thread | None = None
        if run_worker:
            self._worker_thread = threading.Thread(target=self._worker_loop, name="serve-worker", daemon=True)
            self._threads.append(self._worker_thread)
        self._builder = threading.Thread(target=self._build_loop, name="serve-builder", daemon=True)
        self._threads.append(self._builder)
        self._threads.append(threading.Thread(target=self._pulse_loop, name="serve-pulse", daemon=True))
        self._threads.append(threading.Thread(target=self._count_loop, name="serve-count", daemon=True))
        self._threads.append(threading.Thread(target=self._hook_loop, name="serve-hooks", daemon=True))
        # VTEX Feed v3 every [feed] poll_seconds; what lands is built like a push
        self._threads.append(FeedLoop(app, self.stop, lock=self.gate.lock, on_landed=self._dirty.set).thread())
        # absolute: forwarded commands run in their own working folder (serve.channel)
        self.spool = Spool(
            (options.spool_path or Path(app.settings.dbt.state_dir).parent / "hook-spool.ndjson").resolve()
        )
        self.channel: ChannelServer | None = None
        if not app.wh.concurrent_writers:
            where = socket_path(duckdb_path(app.settings.warehouse.url))
            self.channel = ChannelServer(where, self._forwarded_then_reload, self.gate.lock)
        self._hooked = threading.Event()
        self._hooked.set()  # drain what a previous process spooled and did not move
        self.api = create_app(
            self.gate,
            max_body_mb=options.settings.max_body_mb,
            max_items_per_minute=options.settings.max_items_per_minute,
            hook_secrets=self.hook_secrets,
            worker_alive=self._worker_alive,
            builder_alive=self._builder.is_alive,
            on_landed=lambda n: self._dirty.set(),
            hook_spool=self.spool,
            on_hook=self._hooked.set,
        )

    def _worker_alive(self) -> bool | None:
        return None if self._worker_thread is None else self._worker_thread.is_alive()

    # -- background ----------------------------------------------------------------------------
    def _build_loop(self) -> None:
        every = self.options.settings.build_every_seconds
        next_notices = 0.0  # at once: notices a previous process left undelivered
        while not self.stop.wait(0.2):
            if self._notices_due.is_set() or time.monotonic() >= next_notices:
                self._notices_due.clear()
                next_notices = time.monotonic() + NOTICES_EVERY_SECONDS
                self._deliver_notices()
            if not self._dirty.is_set() or time.monotonic() - self._last_build < every:
                continue
            with self.build_lock:
                # cleared before the ledger is sealed: what lands from here on sets it again
                self._dirty.clear()
                self._last_build = time.monotonic()
                try:
                    self.builder.build(trigger="serve")
                    self.gate.vitals.ok()
                    self._notices_due.set()  # what the build wrote goes out on the next turn
                except OrdersyncError as exc:
                    log.error("build after pushes failed (the next landing builds again): %s", exc)
                    self._dirty.set()
                except Exception as exc:
                    log.exception("build after pushes failed: %s", exc)
                    self._dirty.set()
                finally:
                    self.builder.close()  # between builds only the serve's own connection is open

    @contextlib.contextmanager
    def _long_work(self) -> Iterator[None]:
        """Held around a build or a worker tick: hook secret checks do not wait for it."""
        self.gate.long_work.set()
        try:
            yield
        finally:
            self.gate.long_work.clear()

    def _pulse_loop(self) -> None:
        """What /v1/health tells, DuckDB's checkpoints and hook secrets: never inside a request.
        On DuckDB a turn that finds the lock held (a build) waits for the next one."""
        duck = self.gate.pool is None
        last_checkpoint = last_secrets = time.monotonic()
        while not self.stop.wait(1.0):
            now = time.monotonic()
            due = duck and (now - last_checkpoint >= CHECKPOINT_EVERY_SECONDS or self._wal_mb() >= PULSE_WAL_MB)
            if due and self._try_locked(self._checkpoint):
                last_checkpoint = time.monotonic()
            if duck and now - last_secrets >= SECRETS_EVERY_SECONDS and self._try_locked(self.hook_secrets.reload_held):
                last_secrets = time.monotonic()
            seen = self.gate.vitals.last_ok
            if seen is None or now - seen >= PULSE_SECONDS:
                if duck:
                    self._try_locked(self._look)
                else:
                    self._guarded(lambda: self.gate.pooled(self._probe))

    def _count_loop(self) -> None:
        """The tenant summaries brought up to date every COUNT_EVERY_SECONDS, whoever landed what
        (this process, the worker, another serve), so a page read never counts."""
        while not self.stop.wait(COUNT_EVERY_SECONDS):
            at = self.app.clock.now()
            try:
                summaries.refresh(self.counter.wh, self.app.clock)
            except OrdersyncError as exc:
                log.warning("counting what landed failed (reads count for themselves until it works): %s", exc)
                self.keeper.at = None
                self.counter.reconnect()
                continue
            self.keeper.at = at

    def _wal_mb(self) -> float:
        """The size of the DuckDB file's write-ahead log (0 when there is none)."""
        wal = Path(duckdb_path(self.app.settings.warehouse.url) + ".wal")
        try:
            return wal.stat().st_size / 1e6
        except OSError:
            return 0.0

    def _probe(self, app: Ordersync) -> None:
        self.gate.vitals.schema_version = migrate.current_version(app.wh)

    def _look(self) -> None:
        self.gate.through(self._probe)

    def _checkpoint(self) -> None:
        def checkpoint(app: Ordersync) -> None:
            if isinstance(app.wh, DuckDBWarehouse):
                app.wh.checkpoint()

        # a checkpoint waits for no transaction: during a build it waits for the next turn
        if not self.build_lock.acquire(blocking=False):
            return
        try:
            self.gate.through(checkpoint)
        finally:
            self.build_lock.release()

    def _try_locked(self, fn: Callable[[], None]) -> bool:
        """fn() under the lock when it comes free within a second; False when it did not."""
        if not self.gate.lock.acquire(timeout=1.0):
            return False
        try:
            return self._guarded(fn)
        finally:
            self.gate.lock.release()

    def _guarded(self, fn: Callable[[], None]) -> bool:
        try:
            fn()
        except TransientWarehouseError as exc:
            log.warning("the warehouse did not answer (health says so until it does): %s", exc)
            if self.gate.pool is None:
                self.app.reconnect()
            return False
        except OrdersyncError as exc:
            log.error("a background look at the warehouse failed: %s", exc)
            return False
        return True

    def _forwarded_then_reload(self, argv: list[str]) -> int:
        """A forwarded command, then the hook secrets it may have changed (`hook setup --force`)
        are read again before the next notification is checked (the lock is still held)."""
        try:
            return self._run_forwarded(argv)
        finally:
            self._guarded(self.hook_secrets.reload_held)

    def _deliver_notices(self) -> None:
        """Revision notices, after each build and every NOTICES_EVERY_SECONDS for retries: the
        requests run outside the gate's lock; a failure is logged, never the build's."""
        try:
            summaries = [self.app.deliver_notices(lock=self.gate.lock)]
            if self.app.settings.customers.webhook_url_envs:
                summaries.append(self.app.deliver_customer_events(lock=self.gate.lock))
        except Exception as exc:
            log.error("delivering notices failed, they are retried: %s", scrub(f"{type(exc).__name__}: {exc}"))
            with self.gate.lock:
                self.app.reconnect()
            return
        for summary in summaries:
            if summary.delivered or not summary.ok:
                log.info("%s", summary.line())

    def _hook_loop(self) -> None:
        last_try = 0.0
        while not self.stop.is_set():
            # woken by each notification; every 30 s anyway, for fetches that failed before
            if not self._hooked.wait(1.0) and time.monotonic() - last_try < 30:
                continue
            self._hooked.clear()
            last_try = time.monotonic()
            with self.gate.lock:
                try:
                    done = self.app.hook_round(self.spool)
                except Exception as exc:  # the notifications wait in the spool or the inbox
                    log.error("processing hook notifications failed, they are retried: %s", exc)
                    self.app.reconnect()
                    continue
            if done.landed:
                self._dirty.set()

    def _worker_loop(self) -> None:
        # the builder thread delivers the notices, outside the gate's lock
        worker = Worker(self.app, ScheduleSettings(tick_seconds=self.options.tick_seconds), notices=False)
        last: float | None = None
        while not self.stop.is_set():
            if last is None or time.monotonic() - last >= self.options.tick_seconds:
                last = time.monotonic()
                with self.gate.lock, self.build_lock, self._long_work():
                    try:
                        if worker.tick().built:
                            self._notices_due.set()
                    except Exception as exc:  # the schedule goes on, as the worker's own loop does
                        log.error("worker tick failed, the next one carries on: %s", exc)
                        self.app.reconnect()
            self.stop.wait(1.0)

    # -- serving -------------------------------------------------------------------------------
    def config(self) -> uvicorn.Config:
        return uvicorn_config(self.api, self.options.settings)

    def _run_forwarded(self, argv: list[str]) -> int:
        """A command sent over the local channel (the lock is held): it opens the file itself."""
        if "serve" in argv:
            print("error: ordersync serve is already running for this warehouse", file=sys.stderr)
            return 2
        if self.run_command is None:
            print("error: this ordersync serve runs no commands (it was started without a runner)", file=sys.stderr)
            return 2
        with self.build_lock:  # the command may build, and opens the file itself once nothing holds it
            self.app.close()
            return self.run_command(argv)

    def start_background(self) -> None:
        if self.channel is not None:
            self.channel.start()
        for t in self._threads:
            t.start()

    def shutdown(self) -> None:
        if self.channel is not None:
            self.channel.stop()
        self.stop.set()
        for t in self._threads:
            t.join(timeout=60)
        with self.build_lock:
            self.builder.close()
        self.counter.close()
        self.gate.close()

    def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until interrupted."""
        sock = bind_socket(self.options.settings.host, self.options.settings.port)
        # uvicorn raises the signal again once it has stopped; with a handler of ours that ends in
        # SystemExit, the cleanup below (the channel's socket, the connection) still runs
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.start_background()
        if on_ready is not None:
            on_ready(socket_url(sock))
        try:
            uvicorn.Server(self.config()).run(sockets=[sock])
        finally:
            sock.close()
            self.shutdown()


@contextlib.contextmanager
def serving_in_thread(
    app: Ordersync, options: ServeOptions, run_command: CommandRunner | None = None
) -> Iterator[tuple[str, Serve]]:
    """Serve in a background thread (tests, the demo); yields (base URL, the Serve)."""
    serve = Serve(app, options, run_command)
    sock = bind_socket(options.settings.host, options.settings.port)
    server = uvicorn.Server(serve.config())  # off the main thread it installs no signal handlers
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="serve-http", daemon=True)
    serve.start_background()
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    try:
        yield socket_url(sock), serve
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        serve.shutdown()
