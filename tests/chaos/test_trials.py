"""The short version of every registered chaos trial, on each warehouse it runs on in the short run:
nothing lost, nothing doubled, no secret in any output, and every check of the trial met."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib import TRIALS
from chaoslib.model import POSTGRES
from chaoslib.runner import run_group

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

CASES = [
    pytest.param(
        name, warehouse, id=f"{name}-{warehouse}", marks=[pytest.mark.postgres] if warehouse == POSTGRES else []
    )
    for name, spec in TRIALS.items()
    for warehouse in spec.warehouses
    if spec.runs_short_on(warehouse)
]


@pytest.mark.parametrize(("name", "warehouse"), CASES)
def test_short_trial(name: str, warehouse: str, tmp_path: Path) -> None:
    spec = TRIALS[name]
    result = run_group(spec, warehouse, spec.short, tmp_path, short=True)
    assert result.trials == spec.short
    assert result.faults > 0, "the trial injected no fault"
    assert result.orders_checked > 0, "the trial checked no order"
    assert result.failures == [], "\n".join(result.failures)
    assert (result.versions_lost, result.versions_doubled) == (0, 0)
