"""Extract: VTEX's Orders API, read completely (window splitting), politely (a paced budget per account,
Retry-After, bounded concurrency) and fast (one session per account)."""

from ordersync.errors import MalformedBodyError
from ordersync.extract.models import ClientStats, DateField, ListEntry
from ordersync.extract.order_head import OrderHead, decode_order_head
from ordersync.extract.vtex import MAX_PAGES, OrderBody, VtexClient

__all__ = [
    "MAX_PAGES",
    "ClientStats",
    "DateField",
    "ListEntry",
    "MalformedBodyError",
    "OrderBody",
    "OrderHead",
    "VtexClient",
    "decode_order_head",
]
