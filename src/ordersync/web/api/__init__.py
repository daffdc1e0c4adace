"""The JSON API under /v1: the dashboard's data, by token or session (web/auth.py), read on
connections of its own (Gate.read); actions through the write path (Gate.request)."""

from __future__ import annotations

from fastapi import FastAPI

from ordersync.observe.warehouse_metrics import render_metrics
from ordersync.web.api import actions, fleet, session, tenants
from ordersync.web.auth import Auth
from ordersync.web.gate import Gate
from ordersync.web.metrics import add_metrics_route


def install(api: FastAPI, gate: Gate) -> None:
    auth = Auth(gate)
    for module in (session, tenants, fleet, actions):
        api.include_router(module.router(gate, auth))
    # this process's metrics and what the warehouse holds, read at scrape time on a reading connection
    add_metrics_route(api, lambda: gate.read(lambda app: render_metrics(app.wh)), auth.scraper)
