"""Pushed data: order events (or VTEX order bodies) sent over HTTP, read into items."""
