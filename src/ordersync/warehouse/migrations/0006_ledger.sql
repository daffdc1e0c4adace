-- The landing ledger: one row per landing call that stored at least one version, written in the
-- same transaction as its rows. `seq` and `committed_at` stay NULL until ledger.seal() sees the
-- batch committed and numbers it; seq then grows in the order batches became visible, so a reader
-- that remembers the last seq it consumed never skips a batch, whatever the writers' clocks or
-- the order their transactions committed in (see land/ledger.py).
CREATE SEQUENCE IF NOT EXISTS cdp.landing_batch_id_seq START 1;

CREATE TABLE IF NOT EXISTS cdp.landing_batches (
    batch_id      BIGINT PRIMARY KEY DEFAULT nextval('cdp.landing_batch_id_seq'),
    tenant_id     INTEGER NOT NULL,
    source        TEXT NOT NULL,
    run_id        TEXT,
    rows          INTEGER NOT NULL,
    -- the landing writer's clock (the rows' event_ingested_at)
    landed_at     TIMESTAMPTZ NOT NULL,
    seq           BIGINT UNIQUE,
    -- when the ledger first saw the batch committed: versions known at T are those whose batch
    -- has committed_at <= T
    committed_at  TIMESTAMPTZ
);

-- NULL on rows landed before the ledger existed (and by callers landing without a batch): the
-- processing-time lookback is all that reads those.
ALTER TABLE cdp.orders_landing ADD COLUMN IF NOT EXISTS batch_id BIGINT;

-- How far each consumer of the ledger (the fct_orders build is 'fct_orders') has read it.
CREATE TABLE IF NOT EXISTS cdp.ledger_cursors (
    consumer    TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- DuckDB: no index on orders_landing.batch_id (PostgreSQL's is in the companion file). Batch ids
-- grow with insertion order, so the row groups' min/max statistics already skip everything outside
-- a build's batch range, while an index would add an insert per landed row and DuckDB refuses some
-- later changes to an indexed table. The few unsealed batches are the newest rows of a small table.
