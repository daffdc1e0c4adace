"""The chaos suite: trials that break ordersync's surroundings and check that nothing was lost or doubled.

Importing the package registers every trial in `TRIALS`; `runner.run` runs a selection and
`report.write` turns the results into docs/reliability.md.
"""

from chaoslib.model import TRIALS, TrialParams, TrialResult, TrialSpec, register
from chaoslib.trials import load_all

load_all()

__all__ = ["TRIALS", "TrialParams", "TrialResult", "TrialSpec", "register"]
