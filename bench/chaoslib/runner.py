"""Run registered trials: each group (one trial name on one warehouse) runs its trials one after
another in folders of their own, shares what it set up once, and is scanned for leaked secrets."""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaoslib import commands, secrets
from chaoslib.model import PUBLISHED, TRIALS, Shared, TrialParams, TrialResult, TrialSpec

Progress = Callable[[str], None]


@dataclass
class GroupResult:
    spec: TrialSpec
    warehouse: str
    result: TrialResult

    @property
    def outcome(self) -> str:
        return "pass" if self.result.ok else "FAIL"


def run_group(
    spec: TrialSpec,
    warehouse: str,
    count: int,
    root: Path,
    *,
    size: str = PUBLISHED,
    seed: int = 8,
    progress: Progress | None = None,
) -> TrialResult:
    group_dir = root / f"{spec.name}-{warehouse}"
    group_dir.mkdir(parents=True, exist_ok=True)
    shared = Shared()
    total = TrialResult()
    try:
        for index in range(count):
            workdir = group_dir / f"trial-{index:03d}"
            workdir.mkdir(parents=True, exist_ok=True)
            rng = random.Random(f"{seed}:{spec.name}:{warehouse}:{index}")
            params = TrialParams(warehouse, workdir, group_dir, index, size, shared, dict(spec.options))
            began = time.perf_counter()
            try:
                result = spec.fn(params, rng)
            except Exception as exc:  # the harness itself broke: say so, keep the traceback, go on
                result = TrialResult(trials=1)
                result.fail(secrets.mask(f"harness error in trial {index}: {type(exc).__name__}: {exc}"))
                (workdir / "harness-error.txt").write_text(secrets.mask(traceback.format_exc()))
            finally:
                left = commands.reap()
            if left:
                result.note(f"the harness SIGKILLed what the trial left running: {', '.join(left)}")
            result.seconds = time.perf_counter() - began
            total = total + result
            if progress is not None:
                verdict = "ok" if result.ok else "FAIL: " + "; ".join(result.failures)[:600]
                progress(f"{spec.name} [{warehouse}] trial {index + 1}/{count} {result.seconds:.1f} s {verdict}")
    finally:
        shared.close()
    for leak in secrets.scan(group_dir):
        total.fail(f"secret in output: {leak}")
    return total


def select(names: list[str] | None) -> list[TrialSpec]:
    if not names:
        return list(TRIALS.values())
    unknown = [n for n in names if n not in TRIALS]
    if unknown:
        raise KeyError(f"unknown trial(s) {unknown}; registered: {', '.join(TRIALS)}")
    return [TRIALS[n] for n in names]


def run(
    names: list[str] | None,
    root: Path,
    *,
    size: str = PUBLISHED,
    trials: int | None = None,
    warehouses: tuple[str, ...] | None = None,
    seed: int = 8,
    progress: Progress | None = None,
) -> list[GroupResult]:
    out: list[GroupResult] = []
    for spec in select(names):
        for warehouse in spec.warehouses:
            if warehouses is not None and warehouse not in warehouses:
                continue
            if trials is None and not spec.runs_on(warehouse, size):
                continue
            count = trials if trials is not None else spec.count(size)
            result = run_group(spec, warehouse, count, root, size=size, seed=seed, progress=progress)
            out.append(GroupResult(spec, warehouse, result))
    return out
