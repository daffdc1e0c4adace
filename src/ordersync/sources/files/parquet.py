"""Parquet, read in record batches: each row a JSON object (structs as objects, timestamps ISO-8601
strings with their zone); pyarrow is imported only when a Parquet file is read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ordersync.errors import UnreadableCellError, UnreadableFileError
from ordersync.land.intake import Item
from ordersync.sources.files import reading
from ordersync.sources.files.reading import OnRead, Unreadable

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_MAGIC = b"PAR1"


def not_parquet(path: Path, why: object) -> str:
    return f"{path} is not a Parquet file ({why}); check the file, or pass --format for what it holds"


def parquet_items(path: Path, name: str, size: int, on_read: OnRead) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(not_parquet(path, exc)) from None
    target = _microseconds(file.schema_arrow)
    total_rows = max(file.metadata.num_rows, 1)
    row, told = 0, 0
    try:
        for batch in file.iter_batches(batch_size=reading.BATCH_ITEMS):
            for raw, value in _rows(batch.cast(target, safe=False) if target is not None else batch):
                row += 1
                yield Item(raw, f"{name} row {row}", value)
            if size:
                now = size * row // total_rows
                on_read(now - told)
                told = now
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(f"{path}: the Parquet data cannot be read after row {row} ({exc})") from None


def _microseconds(schema: pa.Schema) -> pa.Schema | None:
    """The schema with nanosecond timestamps as microseconds (Python's datetime holds no finer),
    or None when it has none."""
    import pyarrow as pa

    def fix(t: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(t) and t.unit == "ns":
            return pa.timestamp("us", t.tz)
        if pa.types.is_struct(t):
            return pa.struct([f.with_type(fix(f.type)) for f in t])
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            inner = fix(t.value_type)
            return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
        return t

    fields = [f.with_type(fix(f.type)) for f in schema]
    fixed = pa.schema(fields, metadata=schema.metadata)
    return None if fixed.equals(schema) else fixed


def _rows(batch: pa.RecordBatch) -> Iterator[tuple[bytes, dict[str, Any] | Unreadable]]:
    """(raw, value) per row: the raw bytes are the row as JSON."""
    try:
        rows = batch.to_pylist(maps_as_pydicts="lossy")
    except (ValueError, OverflowError, ArithmeticError):
        # some cell cannot be a Python value (a date past year 9999): find the rows, keep the rest
        for i in range(batch.num_rows):
            try:
                [row] = batch.slice(i, 1).to_pylist(maps_as_pydicts="lossy")
            except (ValueError, OverflowError, ArithmeticError) as exc:
                yield b"", Unreadable(f"the row cannot be read ({exc})")
                continue
            yield _row_value(row)
        return
    for row in rows:
        yield _row_value(row)


def _row_value(row: dict[str, Any]) -> tuple[bytes, dict[str, Any] | Unreadable]:
    try:
        value: dict[str, Any] = _jsonable(row)
    except UnreadableCellError as exc:
        # kept for the quarantine as near to the row as JSON allows
        return orjson.dumps(row, default=repr, option=orjson.OPT_NON_STR_KEYS), Unreadable(str(exc))
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), value


def _jsonable(value: Any, key: str = "") -> Any:
    """A Parquet cell as JSON would hold it: objects without null members (an absent value in a
    columnar file is a null), timestamps as ISO-8601 with their zone (UTC when the column has
    none), dates and times as ISO-8601, decimals as numbers, binary as UTF-8 text."""
    if isinstance(value, dict):
        return {k: _jsonable(v, f"{key}.{k}" if key else str(k)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v, key) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableCellError(f"column {key} holds bytes that are not UTF-8 text") from None
    return value
