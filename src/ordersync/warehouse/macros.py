"""The dbt project's macros rendered for the SQL ordersync runs itself, so a rule the models state
once (transform/dbt/macros/) is the same text in the as-of queries and the reconciliation.

Only the macros' plain Jinja is supported: `adapter.dispatch` picks `<dialect>__name` or
`default__name` from the same file, `return` gives back its value, as dbt does, and `build_var`
reads the values given to `render` (what `ordersync build` passes the models).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from ordersync.config import OrdersSettings

# Read as package data through the top package: importing ordersync.transform would load the stage.
_MACROS = resources.files("ordersync") / "transform" / "dbt" / "macros"


class _Adapter:
    """dbt's `adapter` as far as the macros use it: dispatch by dialect."""

    def __init__(self, dialect: str, macros: Callable[[], Any]) -> None:
        self._dialect = dialect
        self._macros = macros

    def dispatch(self, name: str, package: str | None = None) -> Any:
        macros = self._macros()
        found = getattr(macros, f"{self._dialect}__{name}", None)
        return found if found is not None else getattr(macros, f"default__{name}")


def _return(value: Any) -> Any:
    return value


@cache
def _module(file: str, dialect: str, build_vars: str) -> Any:
    made: list[Any] = []
    values: dict[str, Any] = json.loads(build_vars)

    def build_var(name: str, default: Any = None) -> Any:
        return values.get(name, default)

    import jinja2  # kept off start-up: only commands that render a macro load it

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, extensions=["jinja2.ext.do"])
    template = env.from_string(
        (_MACROS / file).read_text(encoding="utf-8"),
        globals={"adapter": _Adapter(dialect, lambda: made[0]), "return": _return, "build_var": build_var},
    )
    made.append(template.make_module())
    return made[0]


def render(file: str, macro: str, dialect: str, *args: Any, build_vars: Mapping[str, Any] | None = None) -> str:
    """`macro` of transform/dbt/macros/`file` called with `args`, for `dialect` (duckdb or
    postgres), as SQL text; `build_vars` are the values `build_var` reads."""
    key = json.dumps(dict(build_vars or {}), sort_keys=True)
    return str(getattr(_module(file, dialect, key), macro)(*args)).strip()


def latest_version_first(dialect: str, alias: str | None = None) -> str:
    """The `order by` list that puts an order's newest version first (order_versions.sql): the one
    version order of the models, the as-of queries and the reconciliation."""
    return render("order_versions.sql", "latest_version_first", dialect, alias)


def revenue_rule(dialect: str, orders: OrdersSettings, alias: str) -> dict[str, str]:
    """The valid / pending / canceled conditions on the order row `alias` for the [orders] settings
    (transform/dbt/macros/revenue.sql), with the statuses written in as quoted literals. Each is
    NULL where the models' is (a null status is not canceled): wrap in coalesce(..., false)."""
    values = {
        "invalid_statuses": list(orders.invalid_statuses),
        "pending_statuses": list(orders.pending_statuses),
        "pending_when_no_status": orders.pending_when_no_status,
    }
    return {
        name: render("revenue.sql", f"is_{name}", dialect, alias, build_vars=values)
        for name in ("valid", "pending", "canceled")
    }
