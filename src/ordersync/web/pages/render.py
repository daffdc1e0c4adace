"""Rendering a page: Jinja2 templates shipped in the package, autoescaped, answered with a
Content-Security-Policy that lets the browser run and style only what this app serves."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi.responses import HTMLResponse

from ordersync.reads import plain

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"

#: only this app's own scripts, styles and images; no inline script or style; forms post here only
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def moment(value: Any) -> str:
    """A moment as the pages show it: to the second, in UTC as stored (ISO text or datetime)."""
    if value is None or value == "":
        return "—"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("T", " ")[:19] + (" UTC" if text.endswith(("+00:00", "Z")) else "")


@lru_cache(maxsize=4)
def environment(folder: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,  # every template is HTML: every value is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["moment"] = moment
    env.filters["part"] = lambda value: quote(str(value), safe="")  # a path segment or query value
    return env


def html(template: str, folder: Path = TEMPLATES, **context: Any) -> str:
    """The page's HTML; `context` made JSON-plain first (decimals as text, moments in ISO 8601)."""
    return environment(str(folder)).get_template(template).render(**plain(context))


def page(template: str, code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(html(template, **context), status_code=code, headers=HEADERS)
