"""What a trial is, what it reports, and the one table every trial is registered in.

A trial is a function `(params, rng) -> TrialResult` that runs ONE trial end to end: it sets up
fresh warehouses and sources, injects its faults, lets ordersync finish, and compares the end state
with the source's truth. The runner calls it as many times as asked and adds the results up. A new
write path (push, hook, feed, plan apply, notices) adds its trial with one `register(...)` call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DUCKDB, POSTGRES = "duckdb", "postgres"
WAREHOUSES: tuple[str, ...] = (DUCKDB, POSTGRES)


@dataclass
class TrialResult:
    """What one or more trials proved. `failures` say what went wrong; `notes` are facts worth keeping."""

    trials: int = 0
    faults: int = 0
    orders_checked: int = 0
    versions_lost: int = 0
    versions_doubled: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: rows for a per-trial table in the report, e.g. (bad-input class, path, what ordersync did)
    details: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.versions_lost == 0 and self.versions_doubled == 0

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def __add__(self, other: TrialResult) -> TrialResult:
        return TrialResult(
            self.trials + other.trials,
            self.faults + other.faults,
            self.orders_checked + other.orders_checked,
            self.versions_lost + other.versions_lost,
            self.versions_doubled + other.versions_doubled,
            self.seconds + other.seconds,
            self.failures + other.failures,
            self.notes + other.notes,
            self.details + other.details,
        )


@dataclass
class Shared:
    """Resources the trials of one group (one trial name on one warehouse) set up once and reuse:
    a simulator, a prepared warehouse to clone, a private PostgreSQL cluster. Closed after the group."""

    stack: ExitStack = field(default_factory=ExitStack)
    cache: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def close(self) -> None:
        self.stack.close()
        self.cache.clear()


@dataclass
class TrialParams:
    warehouse: str  # DUCKDB or POSTGRES
    workdir: Path  # this trial's own folder: logs, DuckDB files, dbt state (all scanned for secrets)
    group_dir: Path  # the folder of every trial in the group, and of what they share
    index: int = 0  # which trial of its group, from 0
    short: bool = False  # the test suite's short version
    shared: Shared = field(default_factory=Shared)
    options: dict[str, Any] = field(default_factory=dict)  # per-trial knobs from the registry entry


TrialFn = Callable[[TrialParams, random.Random], TrialResult]


@dataclass(frozen=True)
class TrialSpec:
    name: str
    fn: TrialFn
    title: str
    doc: str  # what the trial does and what it asserts, for docs/reliability.md
    warehouses: tuple[str, ...] = WAREHOUSES
    published: int = 1  # trials per warehouse in the published run
    short: int = 1  # trials per warehouse in the short run (tests, --short)
    short_on: tuple[str, ...] | None = None  # the short run's warehouses, when not all of them
    options: dict[str, Any] = field(default_factory=dict)

    def runs_short_on(self, warehouse: str) -> bool:
        return self.short > 0 and warehouse in (self.short_on or self.warehouses)


TRIALS: dict[str, TrialSpec] = {}


def register(spec: TrialSpec) -> TrialSpec:
    if spec.name in TRIALS:
        raise ValueError(f"trial {spec.name!r} is registered twice")
    TRIALS[spec.name] = spec
    return spec
