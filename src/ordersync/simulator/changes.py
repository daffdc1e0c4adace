"""Order changes between two instants, and the filters Feed v3 and Hook apply to them.

A store's orders change only as the simulated clock moves: each workflow step of an order's timeline
happens at a fixed offset after its creation. The changes in (t0, t1] are therefore read straight off
the timeline columns, with no per-order state kept between calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import Catalog
from ordersync.simulator.people import hex_id
from ordersync.simulator.timefmt import F_LAST_CHANGE, format_us

FROM_WORKFLOW = "FromWorkflow"
FROM_ORDERS = "FromOrders"
DEFAULT_VISIBILITY_SECONDS = 240
MIN_RETENTION_SECONDS = 345_600  # 4 days
MAX_RETENTION_SECONDS = 1_209_600  # 14 days
MAX_VISIBILITY_SECONDS = 43_200  # the SQS limit the feed's queue appears to inherit


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One change to one order, as the feed and the hook report it."""

    at_us: int
    order_id: str
    domain: str
    state: str
    last_state: str  # "" for the order's first status
    last_change: str  # when the order entered last_state
    current_change: str  # when the change happened
    event_id: str
    status_changed: bool  # False for an item edit: the order changed, its status did not
    value: int  # order value in cents after the change


def changes_between(cat: Catalog, t0_us: int, t1_us: int) -> list[OrderChange]:
    """Every workflow step (status changes and item edits) of the account in (t0_us, t1_us], by time."""
    if t1_us <= t0_us:
        return []
    cat.ensure(t1_us)
    a, b = cat.created_between(t0_us - lc.MAX_CHANGE_MS * 1000, t1_us)
    if a >= b:
        return []
    cols = cat.cols
    created = cols.creation[a:b]
    offsets = cols.offsets[a:b].astype(np.int64)
    at = created[:, None] + offsets * 1000
    hit = (offsets != lc.NEVER) & (at > t0_us) & (at <= t1_us)
    rel_rows, steps = np.nonzero(hit)
    if rel_rows.size == 0:
        return []
    times = at[rel_rows, steps]
    order = np.lexsort((steps, rel_rows, times))
    codes = cols.codes
    out: list[OrderChange] = []
    for i in order.tolist():
        rel, j = int(rel_rows[i]), int(steps[i])
        row = a + rel
        edit_step = int(cols.edit_step[row])
        code = int(codes[row, j])
        prev = int(codes[row, j - 1]) if j > 0 else -1
        # The previous status was entered at the step before, unless that step was an item edit.
        entered = j - 1 if j - 1 != edit_step else j - 2
        style = int(cols.style[row])
        at_us = int(times[i])
        last_us = int(created[rel]) + int(offsets[rel, entered]) * 1000 if entered >= 0 else at_us
        edited = 0 <= edit_step <= j
        out.append(
            OrderChange(
                at_us=at_us,
                order_id=cat.order_id(row),
                domain="Fulfillment" if int(cols.affiliate[row]) else "Marketplace",
                state=lc.STATUS_NAMES[code],
                last_state=lc.STATUS_NAMES[prev] if prev >= 0 else "",
                last_change=format_us(last_us, style, F_LAST_CHANGE),
                current_change=format_us(at_us, style, F_LAST_CHANGE),
                event_id=hex_id(cat.seed, cat.salt, int(cols.key[row]), j).upper(),
                status_changed=j != edit_step,
                value=int(cols.value1[row] if edited else cols.value0[row]),
            )
        )
    return out


class ConfigError(Exception):
    """A feed or hook configuration the store refuses, with the HTTP status it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """FromWorkflow (status changes, optionally by status) or FromOrders (any change matching an expression)."""

    type: str
    status: tuple[str, ...] | None = None  # FromWorkflow; None = every status
    expression: str | None = None  # FromOrders
    disable_single_fire: bool = False
    predicate: Callable[[OrderChange], bool] | None = None

    def matches(self, change: OrderChange) -> bool:
        """Whether the change produces an event (single fire is the subscriber's business)."""
        if self.type == FROM_WORKFLOW:
            return change.status_changed and (self.status is None or change.state in self.status)
        return self.predicate is not None and self.predicate(change)

    def to_json(self) -> dict[str, Any]:
        if self.type == FROM_WORKFLOW:
            return {"type": FROM_WORKFLOW, "status": list(self.status or lc.STATUS_NAMES)}
        return {"type": FROM_ORDERS, "expression": self.expression, "disableSingleFire": self.disable_single_fire}


def parse_filter(raw: Any) -> EventFilter:
    """The `filter` object of a feed or hook configuration; no filter means every status change."""
    if raw is None:
        return EventFilter(FROM_WORKFLOW)
    if not isinstance(raw, dict):
        raise ConfigError(400, "filter must be an object")
    kind = raw.get("type")
    if "status" in raw and "expression" in raw:
        raise ConfigError(409, "filter mixes FromWorkflow (status) and FromOrders (expression); use one type")
    if kind is None:
        kind = FROM_ORDERS if "expression" in raw else FROM_WORKFLOW
    if kind == FROM_WORKFLOW:
        if "expression" in raw or "disableSingleFire" in raw:
            raise ConfigError(409, "a FromWorkflow filter cannot take FromOrders fields (expression)")
        status = raw.get("status")
        if status is None:
            return EventFilter(FROM_WORKFLOW)
        if not isinstance(status, list) or not status or not all(isinstance(s, str) for s in status):
            raise ConfigError(400, "filter.status must be a non-empty list of status names")
        # Status names are not validated, as at VTEX: a typo silently matches nothing.
        return EventFilter(FROM_WORKFLOW, status=tuple(status))
    if kind == FROM_ORDERS:
        if "status" in raw:
            raise ConfigError(409, "a FromOrders filter cannot take FromWorkflow fields (status)")
        expression = raw.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(400, "a FromOrders filter needs an expression")
        single = raw.get("disableSingleFire", False)
        if not isinstance(single, bool):
            raise ConfigError(400, "filter.disableSingleFire must be a boolean")
        predicate = compile_expression(expression)
        return EventFilter(FROM_ORDERS, expression=expression, disable_single_fire=single, predicate=predicate)
    raise ConfigError(400, f"unknown filter type {kind!r}: expected FromWorkflow or FromOrders")


def parse_queue(raw: Any, default_visibility: int) -> tuple[int, int]:
    """(visibility timeout, retention) in seconds from a feed's `queue` object; either casing of the retention."""
    if raw is None:
        return default_visibility, MIN_RETENTION_SECONDS
    if not isinstance(raw, dict):
        raise ConfigError(400, "queue must be an object")
    visibility = _int_field(raw, "visibilityTimeoutInSeconds", default_visibility, 0, MAX_VISIBILITY_SECONDS)
    upper = _int_field(raw, "MessageRetentionPeriodInSeconds", None, MIN_RETENTION_SECONDS, MAX_RETENTION_SECONDS)
    lower = _int_field(raw, "messageRetentionPeriodInSeconds", None, MIN_RETENTION_SECONDS, MAX_RETENTION_SECONDS)
    if upper is not None and lower is not None and upper != lower:
        raise ConfigError(400, "MessageRetentionPeriodInSeconds is given twice with different values")
    retention = upper if upper is not None else lower
    return int(visibility if visibility is not None else default_visibility), retention or MIN_RETENTION_SECONDS


def _int_field(raw: dict[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(400, f"queue.{name} must be a whole number of seconds")
    if not lo <= value <= hi:
        raise ConfigError(400, f"queue.{name} must be between {lo} and {hi} seconds, got {int(value)}")
    return int(value)


# FromOrders expressions: a small JSONata subset ------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<num>-?\d+(?:\.\d+)?)|"(?P<str>[^"\\]*)"|(?P<op>!=|>=|<=|=|>|<|\(|\)|\[|\]|,)'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_FIELDS: dict[str, Callable[[OrderChange], Any]] = {
    "status": lambda c: c.state,
    "value": lambda c: c.value,
    "orderId": lambda c: c.order_id,
    "origin": lambda c: c.domain,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    ">": lambda a, b: _ordered(a, b) and a > b,
    ">=": lambda a, b: _ordered(a, b) and a >= b,
    "<": lambda a, b: _ordered(a, b) and a < b,
    "<=": lambda a, b: _ordered(a, b) and a <= b,
}
_SUPPORTED = (
    "the simulator evaluates a JSONata subset: status, value, orderId and origin compared with = != > >= < <= "
    'to a number or "string", `field in ["a", "b"]`, joined by and / or, with parentheses'
)

Predicate = Callable[[OrderChange], bool]


def _ordered(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float)


def compile_expression(text: str) -> Predicate:
    """Compile a FromOrders expression; ConfigError 400 for anything outside the supported subset."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConfigError(400, f"cannot read the expression at {text[pos:]!r}; {_SUPPORTED}")
        pos = m.end()
        if m.group("num") is not None:
            num = m.group("num")
            tokens.append(("lit", float(num) if "." in num else int(num)))
        elif m.group("str") is not None:
            tokens.append(("lit", m.group("str")))
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op")))
        else:
            tokens.append(("word", m.group("word")))
    parser = _Parser(tokens)
    predicate = parser.expr()
    if parser.i != len(tokens):
        raise ConfigError(400, f"unexpected {tokens[parser.i][1]!r} in the expression; {_SUPPORTED}")
    return predicate


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.i = 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, kind: str, value: Any = None) -> Any:
        tok = self._peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            got = "the end" if tok is None else repr(tok[1])
            raise ConfigError(400, f"expected {value or kind} but found {got} in the expression; {_SUPPORTED}")
        self.i += 1
        return tok[1]

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self._peek() == ("word", "or"):
            self.i += 1
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda c: any(p(c) for p in parts)

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self._peek() == ("word", "and"):
            self.i += 1
            parts.append(self.factor())
        if len(parts) == 1:
            return parts[0]
        return lambda c: all(p(c) for p in parts)

    def factor(self) -> Predicate:
        tok = self._peek()
        if tok == ("op", "("):
            self.i += 1
            inner = self.expr()
            self._take("op", ")")
            return inner
        if tok in (("word", "true"), ("word", "false")):
            self.i += 1
            result = tok[1] == "true"
            return lambda c: result
        name = self._take("word")
        getter = _FIELDS.get(name)
        if getter is None:
            raise ConfigError(400, f"unsupported field {name!r} in the expression; {_SUPPORTED}")
        if self._peek() == ("word", "in"):
            self.i += 1
            self._take("op", "[")
            values = [self._take("lit")]
            while self._peek() == ("op", ","):
                self.i += 1
                values.append(self._take("lit"))
            self._take("op", "]")
            allowed = frozenset(values)
            return lambda c: getter(c) in allowed
        op = self._take("op")
        compare = _COMPARE.get(op)
        if compare is None:
            raise ConfigError(400, f"unsupported operator {op!r} in the expression; {_SUPPORTED}")
        literal = self._take("lit")
        return lambda c: compare(getter(c), literal)
