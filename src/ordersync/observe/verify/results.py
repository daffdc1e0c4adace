"""What every verify check returns and shares: the result, the context, the check names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ordersync.config import Settings
from ordersync.outcomes import CheckStatus
from ordersync.warehouse import Warehouse

CHECKS: tuple[str, ...] = (
    "dbt_tests",
    "source",
    "latest_versions",
    "revenue_daily",
    "full_refresh",
    "lateness",
    "summaries",
)
#: Example ids and days shown per kind of finding.
EXAMPLES = 5

CENT = Decimal("0.01")
NOT_BUILT = "not built yet: run `ordersync build`"


@dataclass
class CheckResult:
    check: str
    status: CheckStatus
    #: one line: the figures, and what failed
    summary: str
    tenant: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "tenant": self.tenant,
            "status": self.status,
            "summary": self.summary,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Context:
    """What the checks need from the facade."""

    #: the facade's open warehouse (opened again after `release`)
    warehouse: Callable[[], Warehouse]
    #: closes every connection the facade holds: DuckDB's dbt must be alone with the file
    release: Callable[[], None]
    settings: Settings
    now: datetime
    project_dir: Path | None


@cache
def audit_sql(name: str) -> str:
    """An audit's SQL, from the .sql file of that name beside this module."""
    return (resources.files(__package__) / name).read_text(encoding="utf-8")
