"""Pushed data: order events (or VTEX order bodies) over HTTP and in files, read into items."""
