"""The landing ledger, cdp.landing_batches: one commit-ordered record of what landed and when it committed.

Every landing call that stores at least one version writes one batch row in the same transaction
as its rows (Lander.land), with `seq` and `committed_at` left NULL. Processing times and batch ids
are handed out before a transaction commits, so neither says in which order versions became
visible: a writer may stamp its rows, then commit after a newer-stamped writer, or stamp them with
a clock running ahead. seal() therefore numbers batches only once it can see them, that is once
they committed: every seal gives the committed, still unsealed batches the next numbers, one seal
at a time. A batch that commits later gets a greater seq than every batch sealed before it, so a
consumer that remembers the last seq it consumed (cursor(), advance()) and next reads the batches
above it never skips one.

`committed_at` is the seal's time, never earlier than any seal before it: the versions known at T
are those of the batches with committed_at <= T, always a prefix of the ledger (committed_by(),
known_at_sql()). It is when the ledger first saw a batch committed, so it can only be later than
the commit itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ordersync.clock import Clock
from ordersync.warehouse import Warehouse
from ordersync.warehouse.locks import LockKey, holding, local_lock, transaction_lock

#: The consumer name of the fct_orders build.
FCT_ORDERS = "fct_orders"

_LAST_SEALED = "SELECT seq, committed_at FROM cdp.landing_batches WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
# Numbered in batch-id order within one seal; which order does not matter, only that every number
# is above those of earlier seals.
_SEAL = """
UPDATE cdp.landing_batches AS b
SET seq = u.seq, committed_at = ?
FROM (
    SELECT tenant_id, batch_id, CAST(? AS BIGINT) + row_number() OVER (ORDER BY batch_id) AS seq
    FROM cdp.landing_batches
    WHERE seq IS NULL
) AS u
WHERE b.tenant_id = u.tenant_id AND b.batch_id = u.batch_id
"""


def new_batch_id(wh: Warehouse) -> int:
    """A batch id for rows about to land (the id says nothing about commit order)."""
    return int(wh.scalar("SELECT nextval('cdp.landing_batch_id_seq')"))


def record_batch(
    wh: Warehouse, batch_id: int, tenant_id: int, source: str, run_id: str | None, rows: int, landed_at: datetime
) -> None:
    """Write the batch row for `rows` versions landed under `batch_id`: in the same transaction as
    those rows, so a batch is visible exactly when its rows are."""
    wh.execute(
        "INSERT INTO cdp.landing_batches (batch_id, tenant_id, source, run_id, rows, landed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (batch_id, tenant_id, source, run_id, rows, landed_at),
    )


def seal(wh: Warehouse, clock: Clock | None = None) -> int | None:
    """Number every committed, unsealed batch (seq, committed_at) and return the greatest seq in
    the ledger, None while it is empty. committed_at is `clock`'s now (the warehouse's clock
    without one), raised to the previous seal's when that is later.

    Call outside any transaction: seal runs its own. On PostgreSQL the seals of every process take
    turns on a transaction-level advisory lock; each statement there reads what committed before it,
    so a seal numbers after the one before it committed. DuckDB has one writing process, whose seals
    take turns on a process-wide lock taken before the transaction starts (its snapshot then holds
    the previous seal)."""
    with holding(local_lock(wh, "seal")), wh.transaction():
        transaction_lock(wh, LockKey.SEAL)
        last = wh.query_one(_LAST_SEALED)
        base, last_at = (0, None) if last is None else (int(last[0]), last[1])
        at = (clock.now() if clock is not None else wh.now()).astimezone(UTC)
        if last_at is not None and last_at > at:
            at = last_at  # so committed_at never decreases along seq
        wh.execute(_SEAL, (at, base))
        top = wh.scalar("SELECT max(seq) FROM cdp.landing_batches")
    return None if top is None else int(top)


def sealed_max(wh: Warehouse) -> int:
    """The greatest seq sealed so far (0 while none is)."""
    return int(wh.scalar("SELECT coalesce(max(seq), 0) FROM cdp.landing_batches") or 0)


def cursor(wh: Warehouse, consumer: str) -> int:
    """The last seq `consumer` has consumed (0 before its first advance)."""
    return int(wh.scalar("SELECT seq FROM cdp.ledger_cursors WHERE consumer = ?", (consumer,)) or 0)


def advance(wh: Warehouse, consumer: str, seq: int, now: datetime | None = None) -> int:
    """Record that `consumer` has consumed every batch up to `seq`; a cursor never moves back (two
    builds finishing out of order keep the greater). Returns the cursor. Refuses a seq that was
    never sealed: a cursor beyond the ledger would skip the batches numbered later."""
    if seq < 0:
        raise ValueError(f"a ledger seq is >= 0, got {seq}")
    top = sealed_max(wh)
    if seq > top:
        raise ValueError(f"cannot advance {consumer!r} to seq {seq}: the ledger is sealed up to {top}")
    wh.execute(
        "INSERT INTO cdp.ledger_cursors AS c (consumer, seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (consumer) DO UPDATE SET seq = greatest(c.seq, excluded.seq), updated_at = excluded.updated_at",
        (consumer, seq, now or datetime.now(UTC)),
    )
    return cursor(wh, consumer)


def committed_by(wh: Warehouse, tenant_id: int | None, at: datetime) -> int:
    """The ledger as known at `at`: the greatest seq committed by then (of `tenant_id`'s batches,
    or anyone's), 0 when none was. The versions known at `at` are the rows whose batch has a seq up
    to it, the same as committed_at <= at (committed_at never decreases along seq)."""
    if tenant_id is None:
        value = wh.scalar("SELECT max(seq) FROM cdp.landing_batches WHERE committed_at <= ?", (at,))
    else:
        value = wh.scalar(
            "SELECT max(seq) FROM cdp.landing_batches WHERE tenant_id = ? AND committed_at <= ?", (tenant_id, at)
        )
    return int(value or 0)


def known_at_sql(alias: str = "l") -> str:
    """A SQL expression for when a landed row (cdp.orders_landing as `alias`) became known: its
    batch's committed_at; NULL while the batch is unsealed; the processing time for rows landed
    without a batch (before the ledger existed), where a null event_ingested_at means on time.
    `<expression> <= ?` bound to T selects the versions known at T."""
    if not alias.isidentifier():
        raise ValueError(f"not a table alias: {alias!r}")
    return (
        f"CASE WHEN {alias}.batch_id IS NULL THEN coalesce({alias}.event_ingested_at, {alias}.event_time) "
        f"ELSE (SELECT b.committed_at FROM cdp.landing_batches b "
        f"WHERE b.tenant_id = {alias}.tenant_id AND b.batch_id = {alias}.batch_id) END"
    )
