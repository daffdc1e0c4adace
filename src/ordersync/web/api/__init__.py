"""The JSON API under /v1: the dashboard's data, by token or session (web/auth.py), read on
connections of its own (Gate.read); actions through the write path (Gate.request)."""

from __future__ import annotations

from fastapi import FastAPI

from ordersync.web.api import actions, fleet, session, tenants
from ordersync.web.auth import Auth
from ordersync.web.gate import Gate


def install(api: FastAPI, gate: Gate) -> None:
    auth = Auth(gate)
    for module in (session, tenants, fleet, actions):
        api.include_router(module.router(gate, auth))
