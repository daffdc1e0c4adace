"""The chaos trials' library is `bench/chaoslib/` (bench/chaos.py runs the published trials); the
tests import it from there."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
