"""The dashboard: server-rendered pages (views.py, templates/) and their static files (static/)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ordersync.web.auth import Auth
from ordersync.web.gate import Gate
from ordersync.web.pages import views
from ordersync.web.pages.render import STATIC


def install(api: FastAPI, gate: Gate) -> None:
    api.include_router(views.router(gate, Auth(gate)))
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
