"""VTEX: the Orders API pull (client, oms, listing), Feed v3 (feed, events_api), Hook (hook) and
their setup; the HTTP under them is ordersync.sources.http."""

from ordersync.sources.vtex.client import client_for
from ordersync.sources.vtex.listing import DateField, ListEntry
from ordersync.sources.vtex.oms import MAX_PAGES, OrderBody, VtexClient

__all__ = ["MAX_PAGES", "DateField", "ListEntry", "OrderBody", "VtexClient", "client_for"]
