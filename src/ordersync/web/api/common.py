"""What every API route shares: paging parameters, the JSON answer, the documented refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from ordersync.paging import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, Key, Page, decode
from ordersync.reads import Reads, json_bytes
from ordersync.web.gate import Gate
from ordersync.web.models import Problem

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"items a page, 1 to {MAX_LIMIT:,} (default {DEFAULT_LIMIT})")
]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR, description="the `next` of the previous page; leave out for the first")
]

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a cursor this list did not give"},
    401: {"model": Problem, "description": "no live token or session (missing, unknown, revoked, logged out)"},
    403: {"model": Problem, "description": "the token's scope does not allow it (push, metrics tokens read nothing)"},
    404: {"model": Problem, "description": "no such tenant or object, or one this token may not see (the same answer)"},
}


def cursor_key(cursor: str | None) -> Key | None:
    return decode(cursor)


def answer(body: Any) -> Response:
    """JSON as the CLI writes it: exact decimals as text, moments in ISO 8601."""
    return Response(json_bytes(body), media_type="application/json")


def page(p: Page) -> Response:
    return answer(p.body())


async def paged(gate: Gate, cursor: str | None, fn: Callable[[Reads, Key | None], Page]) -> Response:
    """A list's page: the cursor decoded, `fn` run on a reading connection, the page answered."""
    after = cursor_key(cursor)
    return page(await gate.read(lambda app: fn(Reads(app), after)))
