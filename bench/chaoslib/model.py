"""What a trial is, what it reports, and the one table every trial is registered in.

A trial is a function `(params, rng) -> TrialResult` that runs ONE trial end to end: it sets up
fresh warehouses and sources, injects its faults, lets ordersync finish, and compares the end state
with the source's truth. The runner calls it as many times as asked and adds the results up. A new
write path (push, hook, feed, plan apply, notices) adds its trial with one `register(...)` call.

Every trial comes in three sizes: the published one (bench/chaos.py, counted in docs/reliability.md),
the short one (`bench/chaos.py --short`: fewer trials, smaller stores) and the smoke one (the test
suite's, `--smoke`): one trial on each warehouse, a single fault timed by what the harness sees rather
than by the clock, and the smallest store that still reaches the moment the fault is aimed at.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

DUCKDB, POSTGRES = "duckdb", "postgres"
WAREHOUSES: tuple[str, ...] = (DUCKDB, POSTGRES)
PUBLISHED, SHORT, SMOKE = "published", "short", "smoke"
SIZES: tuple[str, ...] = (PUBLISHED, SHORT, SMOKE)

T = TypeVar("T")


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
    size: str = PUBLISHED  # PUBLISHED, SHORT or SMOKE
    shared: Shared = field(default_factory=Shared)
    options: dict[str, Any] = field(default_factory=dict)  # per-trial knobs from the registry entry

    @property
    def short(self) -> bool:
        return self.size == SHORT

    @property
    def smoke(self) -> bool:
        return self.size == SMOKE

    def pick(self, published: T, short: T, smoke: T) -> T:
        """The value for this trial's size."""
        return {PUBLISHED: published, SHORT: short, SMOKE: smoke}[self.size]

    def option(self, name: str) -> Any:
        """`options[name_short]` or `options[name_smoke]` when the registry entry gives one for this
        size, else `options[name]`."""
        return self.options.get(f"{name}_{self.size}", self.options[name])


TrialFn = Callable[[TrialParams, random.Random], TrialResult]


@dataclass(frozen=True)
class TrialSpec:
    name: str
    fn: TrialFn
    title: str
    doc: str  # what the trial does and what it asserts, for docs/reliability.md
    warehouses: tuple[str, ...] = WAREHOUSES
    published: int = 1  # trials per warehouse in the published run
    short: int = 1  # trials per warehouse in the short run (--short)
    short_on: tuple[str, ...] | None = None  # the short run's warehouses, when not all of them
    #: the smoke run's warehouses (the test suite, --smoke: one trial each), when not all of them
    smoke_on: tuple[str, ...] | None = None
    smoke_doc: str = ""  # what the smoke trial does differently, for docs/reliability.md
    options: dict[str, Any] = field(default_factory=dict)

    def runs_short_on(self, warehouse: str) -> bool:
        return self.short > 0 and warehouse in (self.short_on or self.warehouses)

    def runs_smoke_on(self, warehouse: str) -> bool:
        return warehouse in (self.smoke_on or self.warehouses)

    def runs_on(self, warehouse: str, size: str) -> bool:
        if size == SHORT:
            return self.runs_short_on(warehouse)
        if size == SMOKE:
            return self.runs_smoke_on(warehouse)
        return warehouse in self.warehouses

    def count(self, size: str) -> int:
        """Trials per warehouse in a run of this size."""
        return {PUBLISHED: self.published, SHORT: self.short, SMOKE: 1}[size]


TRIALS: dict[str, TrialSpec] = {}


def register(spec: TrialSpec) -> TrialSpec:
    if spec.name in TRIALS:
        raise ValueError(f"trial {spec.name!r} is registered twice")
    TRIALS[spec.name] = spec
    return spec
