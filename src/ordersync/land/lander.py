"""Append versions to cdp.orders_landing and bad records to cdp.quarantine, stamped with arrival time."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ordersync import metrics
from ordersync.clock import Clock
from ordersync.errors import BadRecordError
from ordersync.land import ledger
from ordersync.land.records import Version, as_bytes, order_id_of, parse_order, payload_hash
from ordersync.land.redaction import forgotten_among, redact_version
from ordersync.text import NUL, storable
from ordersync.warehouse import Warehouse

#: Versions handed to the warehouse at once by land_raw (all in one transaction).
RAW_BATCH = 500
_MAX_REASON = 2000
#: Raw text (characters) per quarantine statement: a batch of small bad items is one statement,
#: a few large ones are not held in memory all at once (DuckDB's default limit is 48 MB).
QUARANTINE_CHUNK_CHARS = 1 << 20
_NEXT_QUARANTINE_IDS = "SELECT nextval('cdp.quarantine_id_seq') FROM generate_series(1, CAST(? AS INTEGER))"
_QUARANTINE_COLUMNS = (
    "tenant_id, source, run_id, quarantined_at, retries, quarantine_id, order_id, reason, raw, raw_encoding, raw_hash"
)
#: Bad records in one statement: the lists are zipped row by row (unnest in the SELECT list does
#: that on both warehouses); bytes the tenant already has in the quarantine are skipped.
_INSERT_QUARANTINE = (
    f"INSERT INTO cdp.quarantine ({_QUARANTINE_COLUMNS}) SELECT {_QUARANTINE_COLUMNS} FROM (SELECT "
    "CAST(? AS INTEGER) AS tenant_id, CAST(? AS TEXT) AS source, CAST(? AS TEXT) AS run_id, "
    "CAST(? AS TIMESTAMPTZ) AS quarantined_at, 0 AS retries, unnest(CAST(? AS BIGINT[])) AS quarantine_id, "
    "unnest(CAST(? AS TEXT[])) AS order_id, unnest(CAST(? AS TEXT[])) AS reason, unnest(CAST(? AS TEXT[])) AS raw, "
    "unnest(CAST(? AS TEXT[])) AS raw_encoding, unnest(CAST(? AS TEXT[])) AS raw_hash) s "
    "WHERE NOT EXISTS (SELECT 1 FROM cdp.quarantine q WHERE q.tenant_id = s.tenant_id AND q.raw_hash = s.raw_hash)"
)
#: With several writers (PostgreSQL) another transaction may be quarantining the same bytes: wait for
#: it on the unique index and skip them. DuckDB has one writer, and its ON CONFLICT holds a large
#: record several times over in memory (over its 48 MB default for a 5 MB record).
_ON_CONFLICT = " ON CONFLICT DO NOTHING"
_RETURNING = " RETURNING quarantine_id"


def _chunks(rows: Sequence[tuple[int, QuarantineRow]]) -> Iterator[list[tuple[int, QuarantineRow]]]:
    chunk: list[tuple[int, QuarantineRow]] = []
    size = 0
    for pair in rows:
        if chunk and size + len(pair[1].raw) > QUARANTINE_CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(pair)
        size += len(pair[1].raw)
    if chunk:
        yield chunk


@dataclass
class LandResult:
    received: int = 0
    landed: int = 0
    quarantined: int = 0
    reasons: list[str] = field(default_factory=list)


def encode_raw(raw: bytes | str) -> tuple[str, str]:
    """(text, raw_encoding) for cdp.quarantine.raw, a TEXT column: the bytes as UTF-8 text when they
    are valid UTF-8 without NUL (PostgreSQL text cannot hold NUL), base64 otherwise. Lossless."""
    data = as_bytes(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = NUL
    if NUL in text:
        return base64.b64encode(data).decode("ascii"), "base64"
    return text, "utf-8"


def decode_raw(text: str, encoding: str | None) -> bytes:
    """The bytes a quarantine row holds; rows from before raw_encoding existed (NULL) are UTF-8."""
    if encoding in (None, "utf-8"):
        return text.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise BadRecordError(f"the stored raw record is not valid base64 ({exc})") from None
    raise BadRecordError(f"the stored raw record has an unknown encoding {encoding!r}")


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """A bad record ready for cdp.quarantine: built without the warehouse (see quarantine_row)."""

    reason: str
    order_id: str | None
    #: the raw bytes as stored (encode_raw) and how they are encoded
    raw: str
    raw_encoding: str
    #: a hash of the raw bytes: the same bytes are quarantined once per tenant
    raw_hash: str


def quarantine_row(raw: bytes | str, reason: str, order_id: str | None = None) -> QuarantineRow:
    """The row that keeps a record that cannot land, byte for byte, with why."""
    data = as_bytes(raw)
    text, encoding = encode_raw(data)
    return QuarantineRow(
        reason=storable(reason, _MAX_REASON) or "",
        order_id=storable(order_id),
        raw=text,
        raw_encoding=encoding,
        raw_hash=payload_hash(data),
    )


class Lander:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.clock = clock

    def land(
        self,
        tenant_id: int,
        versions: Iterable[Version],
        source: str,
        run_id: str | None,
        *,
        known_new: bool = False,
        checked_after: int | None = None,
    ) -> int:
        """Land versions (call inside a transaction); returns how many were new. `known_new` when the
        caller already excluded every version landed up to landing_id `checked_after` (see
        Warehouse.insert_landing).

        A call that lands anything records one batch in the landing ledger (land/ledger.py), in the
        same transaction as its rows, and stamps the batch's id on them."""
        now = self.clock.now()
        batch = list(versions)
        if not batch:
            return 0
        forgotten = forgotten_among(self.wh, tenant_id, [v.order_id for v in batch])
        if forgotten:  # `customers forget` took these orders' person out: later versions land without them
            batch = [redact_version(v) if v.order_id in forgotten else v for v in batch]
        began = time.perf_counter()
        rows = [_row(tenant_id, v, now, source, run_id) for v in batch]
        # Its own (nested) transaction too, so that a caller in autocommit never leaves rows
        # committed without their batch.
        with self.wh.transaction():
            batch_id = ledger.new_batch_id(self.wh)
            landed = self.wh.insert_landing(rows, known_new=known_new, checked_after=checked_after, batch_id=batch_id)
            if landed:
                ledger.record_batch(self.wh, batch_id, tenant_id, source, run_id, landed, now)
        metrics.landed(source, time.perf_counter() - began)
        return landed

    def quarantine(
        self,
        tenant_id: int,
        raw: bytes | str,
        reason: str,
        source: str,
        run_id: str | None,
        order_id: str | None = None,
        *,
        once: bool = False,
    ) -> bool:
        """Keep a record that cannot land, byte for byte (see encode_raw), with why; True when it was
        stored. `once`: skip it when the same order's same bytes are already waiting unresolved (a
        pull run meets the same poison body again at every run over the trailing window)."""
        row = quarantine_row(raw, reason, order_id)
        if once and row.order_id is not None:
            held = self.wh.scalar(
                "SELECT count(*) FROM cdp.quarantine WHERE tenant_id = ? AND source = ? AND order_id = ? "
                "AND resolved_at IS NULL AND raw = ?",
                (tenant_id, source, row.order_id, row.raw),
            )
            if held:
                return False
        return self.quarantine_rows(tenant_id, [row], source, run_id) > 0

    def quarantine_rows(self, tenant_id: int, rows: Sequence[QuarantineRow], source: str, run_id: str | None) -> int:
        """Store bad records (call inside a transaction), a batch's in one statement (or one per
        QUARANTINE_CHUNK_CHARS of raw text); bytes this tenant already has in the quarantine are
        skipped. Returns how many rows were written."""
        once: dict[str, QuarantineRow] = {}
        for row in rows:
            once.setdefault(row.raw_hash, row)
        rows = list(once.values())
        if not rows:
            return 0
        # Ids in the batch's order, so the quarantine lists records as they came; rows written in
        # the order of their hash, so two transactions quarantining the same bytes wait for each
        # other on the unique index instead of deadlocking.
        ids = self.wh.query(_NEXT_QUARANTINE_IDS, (len(rows),))
        numbered = sorted(zip(sorted(int(r[0]) for r in ids), rows, strict=True), key=lambda p: p[1].raw_hash)
        sql = _INSERT_QUARANTINE + (_ON_CONFLICT if self.wh.concurrent_writers else "") + _RETURNING
        now, written = self.clock.now(), 0
        for chunk in _chunks(numbered):
            values = (
                [i for i, _ in chunk],
                [r.order_id for _, r in chunk],
                [r.reason for _, r in chunk],
                [r.raw for _, r in chunk],
                [r.raw_encoding for _, r in chunk],
                [r.raw_hash for _, r in chunk],
            )
            written += len(self.wh.query(sql, (tenant_id, source, run_id, now, *values)))
        return written

    def land_raw(
        self, tenant_id: int, tz: ZoneInfo, records: Iterable[bytes | str], source: str, run_id: str | None
    ) -> LandResult:
        """Parse and land raw payloads in one transaction; bad ones are quarantined, the rest land."""
        result = LandResult()
        good: list[Version] = []
        bad: list[QuarantineRow] = []
        held = 0  # raw characters in `bad`
        with self.wh.transaction():
            for raw in records:
                result.received += 1
                try:
                    good.append(parse_order(raw, tz))
                except BadRecordError as exc:
                    result.quarantined += 1
                    result.reasons.append(str(exc))
                    bad.append(quarantine_row(raw, str(exc), order_id_of(raw)))
                    held += len(bad[-1].raw)
                if len(good) >= RAW_BATCH:
                    result.landed += self.land(tenant_id, good, source, run_id)
                    good = []
                if len(bad) >= RAW_BATCH or held >= QUARANTINE_CHUNK_CHARS:
                    self.quarantine_rows(tenant_id, bad, source, run_id)
                    bad, held = [], 0
            self.quarantine_rows(tenant_id, bad, source, run_id)
            result.landed += self.land(tenant_id, good, source, run_id)
        return result


def _row(tenant_id: int, v: Version, now: datetime, source: str, run_id: str | None) -> tuple[Any, ...]:
    return (
        tenant_id,
        v.order_id,
        v.event_time,
        now,
        v.order_date,
        v.creation_date,
        v.status,
        v.total_value,
        v.currency_code,
        v.sales_channel,
        v.customer_id,
        v.customer_email,
        v.customer_name,
        v.payload,
        v.payload_hash,
        source,
        run_id,
        v.customer_document,
        v.customer_document_type,
        v.customer_phone,
    )
