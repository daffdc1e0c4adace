"""What the revision notice tests share: a real HTTP receiver, settings, and notices in the outbox."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from factories import push_event_json
from ordersync.config import Settings, load_settings
from ordersync.facade import Ordersync
from ordersync.land.intake import Intake, Item
from ordersync.revisions.notice_bodies import NOTICE_ID_HEADER
from ordersync.sources.push.events import item_order_id, parse_pushed

TENANT = "shop"


@dataclass
class Received:
    path: str
    notice_id: str | None
    body: dict[str, Any]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers each POST with the next of `statuses` (then 200),
    echoing `answer` as the body; keeps every request."""

    statuses: list[int] = field(default_factory=list)
    answer: bytes = b"ok"
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def ids(self) -> list[str | None]:
        with self.lock:
            return [r.notice_id for r in self.got]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def receiving(statuses: Sequence[int] = (), answer: bytes = b"ok") -> Iterator[Receiver]:
    rec = Receiver(list(statuses), answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                rec.got.append(Received(self.path, self.headers.get(NOTICE_ID_HEADER), json.loads(data)))
                status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(rec.answer)))
            self.end_headers()
            self.wfile.write(rec.answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="notice-receiver", daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def env_name(label: str = "HOOK") -> str:
    """An environment variable name of this test's own."""
    return f"ORDERSYNC_TEST_{label}_{uuid.uuid4().hex[:8].upper()}"


def settings(url: str, tmp: Path, **revisions: Any) -> Settings:
    return load_settings(
        overrides={
            "warehouse": {"url": url},
            "dbt": {"state_dir": str(tmp / "dbt")},
            "revisions": {"backoff_seconds": 30.0, **revisions},
        }
    )


def push_tenant(app: Ordersync, name: str = TENANT) -> int:
    app.add_tenant(name, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    return app.tenants.get(name).tenant_id


def land(app: Ordersync, events: Sequence[tuple[str, str, str, float]], tenant: str = TENANT) -> int:
    """Land order events (order_id, created at, event time, total) for a push tenant."""
    t = app.tenants.get(tenant)
    items = [
        Item(
            push_event_json(
                oid, event_time=at, status="invoiced", total_value=total, currency_code="BRL", creation_date=created
            )
        )
        for oid, created, at, total in events
    ]
    done = Intake(app.wh, app.clock).land_items(
        t.tenant_id, t.tz, items, "push", parse=parse_pushed, order_id_of=item_order_id
    )
    assert done.landed == len(items), done
    return done.landed


def add_notice(
    app: Ordersync,
    tenant_id: int,
    day: date,
    before: str = "100.00",
    after: str = "130.00",
    notice_id: str | None = None,
) -> str:
    """A notice in the outbox, as the revenue_daily build writes it."""
    nid = uuid.uuid4().hex
    b, a = Decimal(before), Decimal(after)
    at = datetime(2026, 12, 3, 12, tzinfo=UTC)
    app.wh.execute(
        "INSERT INTO cdp.revision_notices (notice_id, tenant_id, order_date, currency_code, revenue_before, "
        "revenue_after, delta, orders_changed, known_before, known_after, revised_at) "
        "VALUES (?, ?, ?, 'BRL', ?, ?, ?, 2, ?, ?, ?)",
        (nid, tenant_id, day, b, a, a - b, at, datetime(2026, 12, 3, 13, tzinfo=UTC), at),
    )
    return nid


def deliveries(app: Ordersync) -> dict[tuple[str, str], dict[str, Any]]:
    rows = app.wh.query_dicts("SELECT * FROM cdp.notice_deliveries")
    return {(r["notice_id"], r["webhook"]): r for r in rows}
