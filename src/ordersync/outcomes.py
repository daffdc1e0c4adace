"""The vocabularies of stage outcomes, one enum each.

Each value is the string the tables (`cdp.sync_runs.status`, `cdp.build_runs.status`), the JSON
output and the logs have always held: a StrEnum member equals its string, so rows read back as
plain strings compare equal to the members, and members written to a table or to JSON are stored
as their value.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A pull run: `cdp.sync_runs.status`, and the status of a `SyncOutcome`."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: its process stopped or lost the lease before finishing (set by the next lease holder)
    ABANDONED = "abandoned"
    #: outcome only, never a row: nothing was due when the lease was taken
    SKIPPED = "skipped"
    #: outcome only, never a row: another process holds the tenant's lease
    BUSY = "busy"

    @property
    def ok(self) -> bool:
        """A run that needs nothing more: it succeeded, or there was nothing to do."""
        return self in (RunStatus.SUCCEEDED, RunStatus.SKIPPED)


class BuildStatus(StrEnum):
    """A dbt build: `cdp.build_runs.status`."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: its process is gone (killed mid-build)
    ABANDONED = "abandoned"


class RoundStatus(StrEnum):
    """One round of the VTEX feed for one tenant (`FeedRound.status`)."""

    POLLED = "polled"
    #: some orders could not be fetched: their events come back after the visibility timeout
    PARTIAL = "partial"
    #: another process holds the feed's lease
    BUSY = "busy"
    #: left alone after a 429, until its back-off ends
    BACKING_OFF = "backing-off"
    #: answered 429 in this round
    THROTTLED = "throttled"
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        return self not in (RoundStatus.FAILED, RoundStatus.PARTIAL)


class CheckStatus(StrEnum):
    """One `ordersync verify` check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def failed(self) -> bool:
        return self in (CheckStatus.FAIL, CheckStatus.ERROR)


class DeliveryState(StrEnum):
    """A revision notice's delivery to one webhook."""

    #: not tried yet
    WAITING = "waiting"
    #: tried and failed; tried again at `next_attempt_at`
    RETRYING = "retrying"
    DELIVERED = "delivered"
    #: failed `max_attempts` times: not tried again
    GIVEN_UP = "given up"
