"""Local webhooks that record every request they get, and `kill -9` of `ordersync notices send` while
it delivers to them: what the trials of outboxes delivered at least once share (revision notices,
customer change events).

One HTTP server holds all the webhooks of a trial, told apart by the last part of their path; a
secret part before it makes the URLs recognisable (found in any output, log or record of the trial,
a URL leaked). The server answers 500 to a share of the requests (the sender retries them later),
and, once armed, holds the next request without an answer until released: the sender is killed
meanwhile, so that item was sent and its delivery never recorded.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chaoslib.commands import Cli
from chaoslib.deadlines import scaled
from chaoslib.model import TrialResult
from chaoslib.warehouses import wait_until

RANDOM, AFTER_SEND = "at a random moment", "after an item was sent, before its answer (not recorded)"
DURING = "at a random moment of its delivery"
#: DURING: the kill comes within this many seconds of the first request of the run
DURING_SECONDS = 0.5
SEND = ["notices", "send", "--json"]


@dataclass(frozen=True)
class Got:
    hook: str  # the last part of the URL's path
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered (0: no answer, the sender was killed first)


@dataclass
class Receivers:
    """The webhooks on one local server; keeps every request in `got`, and those held at a kill in
    `held`."""

    secret: str  # in every URL's path
    fail_rate: float
    rng: random.Random
    delay: float = 0.02
    got: list[Got] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: set: the next request is held without an answer until `release` is set
    armed: threading.Event = field(default_factory=threading.Event)
    held_one: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held: list[Got] = field(default_factory=list)
    port: int = 0

    def url(self, hook: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.secret}/{hook}"

    def requests(self) -> tuple[list[Got], list[Got]]:
        """(every request, those held at a kill), as they stand."""
        with self.lock:
            return list(self.got), list(self.held)


@contextmanager
def serving(rec: Receivers) -> Iterator[Receivers]:
    """The receivers' server in a thread of the harness, for the body; every held request is released
    and the server closed afterwards."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook = self.path.rsplit("/", 1)[-1]
            headers = {k.lower(): v for k, v in self.headers.items()}
            time.sleep(rec.delay)
            with rec.lock:
                hold = rec.armed.is_set()
                rec.armed.clear()
                status = 500 if not hold and rec.rng.random() < rec.fail_rate else 200
                got = Got(hook, headers, data, 0 if hold else status)
                rec.got.append(got)
                if hold:
                    rec.held.append(got)
            if hold:
                rec.held_one.set()
                rec.release.wait(30)
                return  # the sender is dead: nobody reads an answer
            try:
                answer = b"ok" if status == 200 else b"failing on purpose"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="chaos-receivers", daemon=True).start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()


def kill_sends(
    cli: Cli,
    rec: Receivers,
    rng: random.Random,
    kills: int,
    result: TrialResult,
    first: int | None = None,
    modes: tuple[str, str] = (RANDOM, AFTER_SEND),
) -> None:
    """`kills` runs of `notices send`, each SIGKILLed, alternately in the first and the second of
    `modes` (RANDOM: at a moment drawn from its start; DURING: at a moment drawn once its first
    request reached a receiver; AFTER_SEND: right after a receiver got an item, before its answer);
    `first` (0 or 1: which comes first) is drawn when not given. A run that ended before its moment
    is noted, not counted as a fault."""
    first = rng.randrange(2) if first is None else first
    for k in range(kills):
        _kill_one(cli, rec, modes[(k + first) % 2], rng, result)


def _kill_one(cli: Cli, rec: Receivers, mode: str, rng: random.Random, result: TrialResult) -> None:
    rec.release.clear()
    rec.held_one.clear()
    if mode == AFTER_SEND:
        rec.armed.set()
    seen = len(rec.requests()[0])
    running = cli.spawn(SEND, name="send-killed")
    began = time.monotonic()
    if mode == RANDOM:
        killed = not wait_until(lambda: not running.alive(), rng.uniform(0.2, 2.5), every=0.02)
    elif mode == DURING:
        wait_until(lambda: len(rec.requests()[0]) > seen or not running.alive(), scaled(60), every=0.005)
        killed = not wait_until(lambda: not running.alive(), rng.uniform(0.0, DURING_SECONDS), every=0.005)
    else:
        wait_until(lambda: rec.held_one.is_set() or not running.alive(), scaled(60), every=0.005)
        killed = rec.held_one.is_set() and running.alive()
    rec.armed.clear()
    if killed:
        running.signal(signal.SIGKILL)
        result.faults += 1
        got = len(rec.requests()[0]) - seen
        result.note(f"notices send killed {mode}, {time.monotonic() - began:.2f} s in, after {got} requests")
    else:
        result.note(f"notices send ended (exit {running.proc.poll()}) before its kill {mode}")
    rec.release.set()
    running.wait(60, "`ordersync notices send` to end")


def send_until_delivered(cli: Cli, result: TrialResult, delivered: Callable[[dict[str, Any]], bool]) -> None:
    """`notices send` until a round exits 0 and `delivered(its --json summary)` holds (the receivers'
    500s are retried: the trials set the back-off to zero)."""
    for _ in range(30):
        done = cli.run(SEND)
        if done.code not in (0, 1):
            result.fail(f"`notices send` after the kills: {done.brief()}")
            return
        if done.ok and delivered(done.json()):
            return
    result.fail("30 rounds of `notices send` after the kills still left items undelivered")


def url_leaks(secret: str, workdir: Path, records: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Where a webhook URL (its `secret` path part) shows: in the delivery `records` (by table name)
    or in any file of the trial's folder but the warehouse's own."""
    found = [
        f"a webhook URL is stored in {table}"
        for table, rows in records.items()
        if any(secret in " ".join(str(v) for v in row) for row in rows)
    ]
    for path in sorted(q for q in workdir.rglob("*") if q.is_file() and not q.name.endswith((".duckdb", ".wal"))):
        if secret.encode() in path.read_bytes():
            found.append(f"{path.relative_to(workdir)}: holds a webhook URL")
    return found
