"""Reading a request body within its limits: size before and after decompression, gzip."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from ordersync.errors import BadEncodingError, BodyTooLargeError


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, refusing (BodyTooLargeError) as soon as it passes `limit` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(size)
        parts.append(chunk)
    return b"".join(parts)


def gunzip_capped(data: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than `limit` bytes of output (a small body can
    expand a thousandfold)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadEncodingError(f"the body is not valid gzip ({exc})") from None
    if len(out) > limit:
        raise BodyTooLargeError(len(out))
    if not inflater.eof:
        raise BadEncodingError("the gzip body is cut short; send the whole stream")
    if inflater.unused_data:
        raise BadEncodingError("the gzip body holds more than one stream or trailing bytes")
    return out
