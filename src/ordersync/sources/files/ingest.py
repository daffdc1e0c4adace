"""`ordersync ingest`: batch files of order items landed through the one intake path.

A file is known by the SHA-256 of its bytes: one already ingested for the tenant lands nothing
and says when it was. Otherwise it lands batch by batch (each batch one transaction; a bad row
is quarantined naming the file, the line and why), and the file's row in cdp.ingested_files
commits with its last batch, so a file counts as ingested exactly when all of it has landed. A
file that cannot be read at all is reported in its result; the other files still land.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ordersync.clock import Clock
from ordersync.console import Reporter
from ordersync.errors import UnreadableFileError
from ordersync.land.intake import BatchResult, Intake, Item
from ordersync.sources.files import FileSource, OnRead, format_named, parse_file_item
from ordersync.sources.push.events import item_order_id
from ordersync.tenants import Tenant
from ordersync.tenants.platforms import FILE_SOURCE
from ordersync.warehouse import Warehouse

#: cdp.orders_landing.source and cdp.quarantine.source of what files land (as `ordersync land` did)
SOURCE = FILE_SOURCE
#: quarantine reasons a result keeps (the rest are in cdp.quarantine)
KEPT_REASONS = 20
_HASH_CHUNK = 1024 * 1024


@dataclass
class FileResult:
    path: str
    name: str
    format: str | None = None
    sha256: str | None = None
    size: int = 0
    received: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: the first KEPT_REASONS quarantine reasons, each naming the file and line
    reasons: list[str] = field(default_factory=list)
    #: set when the same bytes were ingested before: nothing landed now
    already_ingested_at: datetime | None = None
    #: the totals of that earlier ingest (received, landed, duplicates, quarantined)
    earlier: dict[str, int] | None = None
    #: the file could not be read (rows read before the point it failed did land)
    error: str | None = None
    run_id: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def add(self, batch: BatchResult) -> None:
        self.received += batch.received
        self.landed += batch.landed
        self.duplicates += batch.duplicates
        self.quarantined += batch.quarantined
        room = KEPT_REASONS - len(self.reasons)
        self.reasons.extend(e.reason for e in batch.errors[: max(room, 0)])

    def totals(self) -> dict[str, int]:
        return {
            "received": self.received,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "bytes": self.size,
            **self.totals(),
            "reasons": self.reasons,
            "already_ingested_at": None if self.already_ingested_at is None else self.already_ingested_at.isoformat(),
            "earlier": self.earlier,
            "error": self.error,
            "run_id": self.run_id,
            "seconds": round(self.seconds, 3),
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FileIngest:
    def __init__(self, wh: Warehouse, clock: Clock) -> None:
        self.wh = wh
        self.clock = clock
        self.intake = Intake(wh, clock)

    def ingest_all(
        self, tenant: Tenant, paths: Iterable[Path], progress: Reporter, fmt: str | None = None
    ) -> list[FileResult]:
        """Each file in turn; a file that cannot be read never stops the others."""
        if fmt is not None:
            fmt = format_named(fmt)  # a wrong --format is the command's error, not each file's
        return [self.ingest(tenant, path, progress, fmt=fmt) for path in paths]

    def ingest(self, tenant: Tenant, path: Path, progress: Reporter, *, fmt: str | None = None) -> FileResult:
        began = time.perf_counter()
        result = FileResult(path=str(path), name=path.name)
        try:
            source = FileSource.of(path, fmt)
            result.format, result.size = source.format, source.size
            result.sha256 = digest = file_sha256(path)
        except UnreadableFileError as exc:
            result.error = str(exc)
            return result
        except OSError as exc:
            result.error = f"{path} cannot be read ({exc.strerror or exc})"
            return result
        earlier = self._earlier(tenant.tenant_id, digest)
        if earlier is not None:
            result.already_ingested_at, result.earlier = earlier
            result.seconds = time.perf_counter() - began
            return result
        result.run_id = uuid.uuid4().hex
        task = progress.task(f"ingest {source.name}", total=source.size or None)
        try:
            self._land(tenant, source, digest, result, task.advance)
        except UnreadableFileError as exc:
            result.error = str(exc)
        finally:
            task.close()
            result.seconds = time.perf_counter() - began
        return result

    def _land(self, tenant: Tenant, source: FileSource, digest: str, result: FileResult, on_read: OnRead) -> None:
        def record(last: BatchResult) -> None:
            # inside the last batch's transaction: the file is ingested exactly when all of it landed
            totals = {
                "received": result.received + last.received,
                "landed": result.landed + last.landed,
                "duplicates": result.duplicates + last.duplicates,
                "quarantined": result.quarantined + last.quarantined,
            }
            self._record(tenant.tenant_id, source, digest, totals)

        # One batch read ahead, so the last one is known as the last while it lands.
        pending: list[Item] | None = None
        try:
            for batch in source.batches(on_read):
                if pending is not None:
                    result.add(self._batch(tenant, pending, result.run_id))
                pending = batch
        except UnreadableFileError:
            if pending is not None:  # what was read before the file failed still lands
                result.add(self._batch(tenant, pending, result.run_id))
            raise
        if pending is None:
            with self.wh.transaction():
                record(BatchResult())
            return
        result.add(self._batch(tenant, pending, result.run_id, within=record))

    def _batch(
        self,
        tenant: Tenant,
        items: list[Item],
        run_id: str | None,
        within: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        return self.intake.land_items(
            tenant.tenant_id,
            tenant.tz,
            items,
            SOURCE,
            run_id,
            parse=parse_file_item,
            order_id_of=item_order_id,
            within=within,
        )

    def _earlier(self, tenant_id: int, digest: str) -> tuple[datetime, dict[str, int]] | None:
        row = self.wh.query_one(
            "SELECT ingested_at, received, landed, duplicates, quarantined FROM cdp.ingested_files "
            "WHERE tenant_id = ? AND file_hash = ?",
            (tenant_id, digest),
        )
        if row is None:
            return None
        keys = ("received", "landed", "duplicates", "quarantined")
        return row[0], {k: int(v) for k, v in zip(keys, row[1:], strict=True)}

    def _record(self, tenant_id: int, source: FileSource, digest: str, totals: dict[str, int]) -> None:
        # Another process ingesting the same bytes at the same moment: the first record stands.
        self.wh.execute(
            "INSERT INTO cdp.ingested_files (tenant_id, file_hash, file_name, ingested_at, received, landed, "
            "duplicates, quarantined) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                tenant_id,
                digest,
                source.name,
                self.clock.now(),
                totals["received"],
                totals["landed"],
                totals["duplicates"],
                totals["quarantined"],
            ),
        )
