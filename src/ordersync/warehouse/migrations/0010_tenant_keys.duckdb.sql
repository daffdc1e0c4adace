-- DuckDB cannot drop or replace a primary key: each table is rebuilt with the same columns, in the
-- same order, and its rows copied; the indexes dropped with the old table are created again.
CREATE TABLE cdp.sync_runs_rebuilt (
    run_id                 TEXT NOT NULL,
    tenant_id              INTEGER NOT NULL,
    mode                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    started_at             TIMESTAMPTZ NOT NULL,
    finished_at            TIMESTAMPTZ,
    window_start           TIMESTAMPTZ,
    window_end             TIMESTAMPTZ,
    orders_listed          BIGINT NOT NULL DEFAULT 0,
    orders_fetched         BIGINT NOT NULL DEFAULT 0,
    versions_landed        BIGINT NOT NULL DEFAULT 0,
    late_versions          BIGINT NOT NULL DEFAULT 0,
    quarantined            BIGINT NOT NULL DEFAULT 0,
    list_calls             BIGINT NOT NULL DEFAULT 0,
    get_calls              BIGINT NOT NULL DEFAULT 0,
    retries                BIGINT NOT NULL DEFAULT 0,
    worker_id              TEXT,
    error                  TEXT,
    wall_started_at        TIMESTAMPTZ,
    wall_finished_at       TIMESTAMPTZ,
    attempt                INTEGER,
    discrepancies          BIGINT,
    discrepancies_fixed    BIGINT,
    throttled              BIGINT,
    throttle_wait_seconds  DOUBLE PRECISION,
    pace_wait_seconds      DOUBLE PRECISION,
    lease_token            BIGINT,
    PRIMARY KEY (run_id, tenant_id)
);
INSERT INTO cdp.sync_runs_rebuilt SELECT * FROM cdp.sync_runs;
DROP TABLE cdp.sync_runs;
ALTER TABLE cdp.sync_runs_rebuilt RENAME TO sync_runs;
CREATE INDEX IF NOT EXISTS sync_runs_tenant_idx ON cdp.sync_runs (tenant_id, started_at);

CREATE TABLE cdp.quarantine_rebuilt (
    quarantine_id    BIGINT NOT NULL DEFAULT nextval('cdp.quarantine_id_seq'),
    tenant_id        INTEGER NOT NULL,
    source           TEXT NOT NULL,
    run_id           TEXT,
    order_id         TEXT,
    reason           TEXT NOT NULL,
    raw              TEXT NOT NULL,
    quarantined_at   TIMESTAMPTZ NOT NULL,
    raw_encoding     TEXT,
    resolved_at      TIMESTAMPTZ,
    resolved_run_id  TEXT,
    retries          INTEGER,
    last_error       TEXT,
    raw_hash         TEXT,
    PRIMARY KEY (quarantine_id, tenant_id)
);
INSERT INTO cdp.quarantine_rebuilt SELECT * FROM cdp.quarantine;
DROP TABLE cdp.quarantine;
ALTER TABLE cdp.quarantine_rebuilt RENAME TO quarantine;
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_raw_hash_idx ON cdp.quarantine (tenant_id, raw_hash);

CREATE TABLE cdp.discrepancies_rebuilt (
    discrepancy_id    BIGINT NOT NULL DEFAULT nextval('cdp.discrepancy_id_seq'),
    tenant_id         INTEGER NOT NULL,
    run_id            TEXT NOT NULL,
    order_date        DATE NOT NULL,
    source_orders     BIGINT NOT NULL,
    source_total      NUMERIC(38, 2) NOT NULL,
    warehouse_orders  BIGINT NOT NULL,
    warehouse_total   NUMERIC(38, 2) NOT NULL,
    found_at          TIMESTAMPTZ NOT NULL,
    fixed             BOOLEAN NOT NULL DEFAULT FALSE,
    fixed_at          TIMESTAMPTZ,
    after_orders      BIGINT,
    after_total       NUMERIC(38, 2),
    fixed_run_id      TEXT,
    PRIMARY KEY (discrepancy_id, tenant_id)
);
INSERT INTO cdp.discrepancies_rebuilt SELECT * FROM cdp.discrepancies;
DROP TABLE cdp.discrepancies;
ALTER TABLE cdp.discrepancies_rebuilt RENAME TO discrepancies;

CREATE TABLE cdp.hook_inbox_rebuilt (
    notification_id  BIGINT NOT NULL DEFAULT nextval('cdp.hook_inbox_id_seq'),
    tenant_id        INTEGER NOT NULL,
    order_id         TEXT,
    state            TEXT,
    body             TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    processed_at     TIMESTAMPTZ,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    PRIMARY KEY (notification_id, tenant_id)
);
INSERT INTO cdp.hook_inbox_rebuilt SELECT * FROM cdp.hook_inbox;
DROP TABLE cdp.hook_inbox;
ALTER TABLE cdp.hook_inbox_rebuilt RENAME TO hook_inbox;
CREATE INDEX IF NOT EXISTS hook_inbox_pending_idx ON cdp.hook_inbox (tenant_id, processed_at);

CREATE TABLE cdp.landing_batches_rebuilt (
    batch_id      BIGINT NOT NULL DEFAULT nextval('cdp.landing_batch_id_seq'),
    tenant_id     INTEGER NOT NULL,
    source        TEXT NOT NULL,
    run_id        TEXT,
    rows          INTEGER NOT NULL,
    landed_at     TIMESTAMPTZ NOT NULL,
    seq           BIGINT,
    committed_at  TIMESTAMPTZ,
    PRIMARY KEY (batch_id, tenant_id),
    UNIQUE (seq, tenant_id)
);
INSERT INTO cdp.landing_batches_rebuilt SELECT * FROM cdp.landing_batches ORDER BY batch_id;
DROP TABLE cdp.landing_batches;
ALTER TABLE cdp.landing_batches_rebuilt RENAME TO landing_batches;

CREATE TABLE cdp.revision_notices_rebuilt (
    notice_id       TEXT NOT NULL,
    tenant_id       INTEGER NOT NULL,
    order_date      DATE NOT NULL,
    currency_code   TEXT NOT NULL,
    revenue_before  NUMERIC(38, 2) NOT NULL,
    revenue_after   NUMERIC(38, 2) NOT NULL,
    delta           NUMERIC(38, 2) NOT NULL,
    orders_changed  INTEGER NOT NULL,
    known_before    TIMESTAMPTZ,
    known_after     TIMESTAMPTZ,
    revised_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notice_id, tenant_id)
);
INSERT INTO cdp.revision_notices_rebuilt SELECT * FROM cdp.revision_notices;
DROP TABLE cdp.revision_notices;
ALTER TABLE cdp.revision_notices_rebuilt RENAME TO revision_notices;
