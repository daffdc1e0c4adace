"""How many examples each property test draws.

Every property chooses its own count for the suite (a property whose example costs dbt builds
draws a few, a pure function's draws hundreds), written `max_examples=examples(N)`. The `nightly`
profile multiplies them all (`bench/properties_nightly.sh`, or ORDERSYNC_HYPOTHESIS_PROFILE=nightly);
a failure prints the blob that replays it (`@reproduce_failure`).
"""

from __future__ import annotations

import os

from hypothesis import settings

#: The profile in force: `default` (the suite) or `nightly`.
PROFILE = os.environ.get("ORDERSYNC_HYPOTHESIS_PROFILE", "default")
#: How many times more examples the nightly run draws.
NIGHTLY_FACTOR = 20

settings.register_profile("default", deadline=None, print_blob=True)
settings.register_profile("nightly", deadline=None, print_blob=True, max_examples=100 * NIGHTLY_FACTOR)
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """`n` examples in the suite, NIGHTLY_FACTOR times as many in the nightly run."""
    return n * NIGHTLY_FACTOR if PROFILE == "nightly" else n
