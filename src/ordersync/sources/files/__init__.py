"""Batch files of order items (NDJSON, a JSON array, CSV, Parquet, each optionally gzipped), read
into items in bounded memory: one module per format, the shared reading in `reading`, and
`FileSource` (format detection, batching, the item parser) in `source`."""

from ordersync.errors import UnreadableFileError
from ordersync.sources.files.reading import KEPT_BYTES, OnRead, Unreadable
from ordersync.sources.files.source import FORMATS, FileSource, batched, format_named, parse_file_item

__all__ = [
    "FORMATS",
    "KEPT_BYTES",
    "FileSource",
    "OnRead",
    "Unreadable",
    "UnreadableFileError",
    "batched",
    "format_named",
    "parse_file_item",
]
