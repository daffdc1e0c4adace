"""The list endpoint: parse VTEX's query parameters and answer from the lagged view of the columns."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import Catalog
from ordersync.simulator.lifecycle import MAX_CHANGE_MS
from ordersync.simulator.payload import OrderRenderer
from ordersync.simulator.timefmt import F_AUTHORIZED, F_INVOICED, official_us_array, parse_us
from ordersync.simulator.view import order_view

MAX_PAGE = 30
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 15
REPORT_RECORDS_LIMIT = 50_000
SORT_FIELDS = ("creationDate", "orderId", "totalValue", "origin")
_RANGE = re.compile(r"^\s*([A-Za-z]+)\s*:\s*\[\s*(\S+)\s+TO\s+(\S+)\s*\]\s*$")
# An offset's '+' sent without percent-encoding arrives as a space: "...T10:00:00 03:00".
_DECODED_PLUS = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})(?=\s|\]|$)")
_LOWEST = -(1 << 62)
_HIGHEST = 1 << 62


class ListQueryError(ValueError):
    """A malformed list query; the message is shown to the client with a 400."""


@dataclass(frozen=True)
class ListQuery:
    creation: tuple[int, int] | None = None
    authorized: tuple[int, int] | None = None
    invoiced: tuple[int, int] | None = None
    statuses: frozenset[int] | None = None
    incomplete: bool | None = None
    order_by: str = "creationDate"
    descending: bool = True
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


def _range(param: str, expected: str, text: str) -> tuple[int, int]:
    m = _RANGE.match(_DECODED_PLUS.sub(r"\1+\2", text))
    if m is None:
        raise ListQueryError(
            f"{param} must look like {expected}:[2024-01-01T00:00:00.000Z TO 2024-01-01T23:59:59.999Z], got {text!r}"
        )
    name, lo_text, hi_text = m.groups()
    if name != expected:
        raise ListQueryError(f"{param} filters on {expected}, not {name!r}")
    bounds: list[int] = []
    for part, open_value in ((lo_text, _LOWEST), (hi_text, _HIGHEST)):
        if part == "*":
            bounds.append(open_value)
            continue
        try:
            bounds.append(parse_us(part))
        except ValueError:
            raise ListQueryError(f"{param}: {part!r} is not an ISO-8601 date") from None
    return bounds[0], bounds[1]


def _int(params: dict[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise ListQueryError(f"{name} must be an integer, got {values[-1]!r}") from None


def parse_list_query(params: dict[str, list[str]]) -> ListQuery:
    """Parse already URL-decoded query parameters (`+` and `%20` both decode to a space)."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    ranges: dict[str, tuple[int, int] | None] = {}
    for param, fld in (
        ("f_creationDate", "creationDate"),
        ("f_authorizedDate", "authorizedDate"),
        ("f_invoicedDate", "invoicedDate"),
    ):
        text = one(param)
        ranges[fld] = _range(param, fld, text) if text else None

    statuses: frozenset[int] | None = None
    status_text = one("f_status")
    if status_text and status_text.strip() != "$$ALL_VALUES$$":
        names = [s.strip() for s in status_text.split(",") if s.strip()]
        statuses = frozenset(lc.STATUS_CODES[s] for s in names if s in lc.STATUS_CODES)
        if not statuses:
            statuses = frozenset({-99})  # only unknown names: matches nothing, as the real index does

    incomplete: bool | None = None
    inc_text = one("incompleteOrders")
    if inc_text is not None:
        if inc_text.lower() not in ("true", "false"):
            raise ListQueryError(f"incompleteOrders must be true or false, got {inc_text!r}")
        incomplete = inc_text.lower() == "true"

    order_by, descending = "creationDate", True
    ob_text = one("orderBy")
    if ob_text:
        fld, _, direction = ob_text.partition(",")
        direction = direction.strip().lower() or "asc"
        if fld.strip() not in SORT_FIELDS or direction not in ("asc", "desc"):
            raise ListQueryError(
                f"orderBy must be one of {', '.join(SORT_FIELDS)} followed by ,asc or ,desc; got {ob_text!r}"
            )
        order_by, descending = fld.strip(), direction == "desc"

    page = _int(params, "page", 1)
    per_page = _int(params, "per_page", DEFAULT_PER_PAGE)
    if page < 1:
        raise ListQueryError(f"page must be >= 1, got {page}")
    if page > MAX_PAGE:
        raise ListQueryError(
            f"page {page} is beyond the limit of {MAX_PAGE} pages; refine the filter "
            "(e.g. a narrower f_creationDate range) to reach the remaining orders"
        )
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ListQueryError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    return ListQuery(
        creation=ranges["creationDate"],
        authorized=ranges["authorizedDate"],
        invoiced=ranges["invoicedDate"],
        statuses=statuses,
        incomplete=incomplete,
        order_by=order_by,
        descending=descending,
        page=page,
        per_page=per_page,
    )


def _stat(values: NDArray[np.int64], whole_moments: bool = False) -> dict[str, Any]:
    count = int(values.shape[0])
    if count == 0:
        return {
            "Count": 0, "Max": 0, "Mean": 0, "Min": 0, "Missing": 0,
            "StdDev": 0, "Sum": 0, "SumOfSquares": 0, "Facets": None,
        }  # fmt: skip
    as_float = values.astype(np.float64)
    mean, std = float(as_float.mean()), float(as_float.std())
    return {
        "Count": count,
        "Max": int(values.max()),
        "Mean": round(mean) if whole_moments else round(mean, 4),
        "Min": int(values.min()),
        "Missing": 0,
        "StdDev": round(std) if whole_moments else round(std, 4),
        "Sum": int(values.sum()),
        "SumOfSquares": int(np.dot(as_float, as_float)),
        "Facets": None,
    }


def _stats(values: NDArray[np.int64], fulfillment: NDArray[np.bool_], items: bool = False) -> dict[str, Any]:
    total = _stat(values)
    # Every order is in BRL: that facet is the total itself.
    brl = dict(total)
    if fulfillment.any():
        own = _stat(values[~fulfillment])
        # VTEX's schema types Mean and StdDev of this one facet as integers.
        affiliate = _stat(values[fulfillment], whole_moments=items)
    else:
        own, affiliate = brl, _stat(values[:0])
    total["Facets"] = {
        "origin": {"Fulfillment": affiliate, "Marketplace": own},
        "currencyCode": {"BRL": brl},
    }
    return total


def run_list_query(renderer: OrderRenderer, query: ListQuery, t_list_us: int) -> dict[str, Any]:
    """Answer a list query as the index stood at t_list_us (the lagged instant)."""
    cat: Catalog = renderer.cat
    cols = cat.cols
    lo, hi = _LOWEST, t_list_us
    if query.creation is not None:
        lo, hi = max(lo, query.creation[0]), min(hi, query.creation[1])
    # Approval and invoicing happen within MAX_CHANGE_HOURS of creation: bound the scan by creation.
    for rng in (query.authorized, query.invoiced):
        if rng is not None:
            lo = max(lo, rng[0] - MAX_CHANGE_MS * 1000)
            hi = min(hi, rng[1])
    a, b = cat.created_between(lo, hi) if lo <= hi else (0, 0)

    rows: NDArray[np.int64] | slice = slice(a, b)
    steps = cat.steps_at(rows, t_list_us)
    mask: NDArray[np.bool_] | None = None

    def keep(m: NDArray[np.bool_]) -> None:
        nonlocal mask
        mask = m if mask is None else mask & m

    if query.statuses is not None or query.incomplete is not None:
        status = cat.status_at(rows, steps)
        if query.statuses is not None:
            keep(np.isin(status, np.fromiter(query.statuses, dtype=np.int8)))
        if query.incomplete is not None:
            keep((status == lc.ORDER_CREATED) == query.incomplete)
    for rng, column, fld in (
        (query.authorized, cols.authorized, F_AUTHORIZED),
        (query.invoiced, cols.invoiced, F_INVOICED),
    ):
        if rng is not None:
            at = cat.step_times(rows, column, t_list_us)
            shown = official_us_array(at, cols.style[rows], fld)
            keep((at >= 0) & (shown >= rng[0]) & (shown <= rng[1]))

    if mask is not None:
        picked = np.nonzero(mask)[0]
        rows = picked + a
        steps = steps[picked]
    values = cat.values_at(rows, steps)
    items = cat.items_at(rows, steps)
    fulfillment = cols.affiliate[rows] > 0
    total = int(values.shape[0])

    def to_rows(positions: NDArray[np.int64]) -> list[int]:
        if isinstance(rows, slice):
            return [int(p) for p in (positions + a).tolist()]
        return [int(p) for p in rows[positions].tolist()]

    start = (query.page - 1) * query.per_page
    if start >= total:
        page_rows: list[int] = []
    elif query.order_by == "creationDate":
        # Rows are already in creation order.
        if query.descending:
            page_rows = to_rows(np.arange(total - 1 - start, max(total - 1 - start - query.per_page, -1), -1))
        else:
            page_rows = to_rows(np.arange(start, min(start + query.per_page, total)))
    else:
        if query.order_by == "totalValue":
            sort_key: NDArray[Any] = values
        elif query.order_by == "origin":
            sort_key = (~fulfillment).astype(np.int8)  # "Fulfillment" sorts before "Marketplace"
        else:
            # Own ids are all digits and sort before affiliate-prefixed ones (AMZ- < B2W- < MLB-).
            sort_key = cat.id_numbers(cols.key[rows]) + cols.affiliate[rows].astype(np.int64) * 10**13
        order = np.argsort(sort_key, kind="stable")
        if query.descending:
            order = order[::-1]
        page_rows = to_rows(order[start : start + query.per_page])

    return {
        "list": [renderer.list_item(order_view(cat, row, t_list_us)) for row in page_rows],
        "facets": [],
        "paging": {
            "total": total,
            "pages": math.ceil(total / query.per_page),
            "currentPage": query.page,
            "perPage": query.per_page,
        },
        "stats": {
            "stats": {
                "totalValue": _stats(values, fulfillment),
                "totalItems": _stats(items, fulfillment, items=True),
            }
        },
        "reportRecordsLimit": REPORT_RECORDS_LIMIT,
    }
