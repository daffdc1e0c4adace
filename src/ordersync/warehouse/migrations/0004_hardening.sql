-- Fenced leases per (tenant, stream), the build log, quarantine retries, and pacing counters.

-- A lease per (tenant, stream): the pull schedule is stream 'pull'; later streams get their own.
-- `token` grows by one at every takeover and is never reset (a released lease keeps its row with
-- holder NULL), so a writer that compares its token inside its own transaction is fenced for good
-- once anybody else has held the lease. Lease times are the warehouse's clock.
CREATE TABLE IF NOT EXISTS cdp.leases (
    tenant_id    INTEGER NOT NULL,
    stream       TEXT NOT NULL,
    holder       TEXT,
    token        BIGINT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL,
    acquired_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, stream)
);
DROP TABLE IF EXISTS cdp.tenant_leases;

-- Every dbt build: who asked, with which flags, how it ended.
CREATE SEQUENCE IF NOT EXISTS cdp.build_id_seq START 1;
CREATE TABLE IF NOT EXISTS cdp.build_runs (
    build_id      BIGINT PRIMARY KEY DEFAULT nextval('cdp.build_id_seq'),
    command       TEXT NOT NULL,
    flags         TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    seconds       DOUBLE PRECISION,
    worker_id     TEXT,
    trigger       TEXT,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS build_runs_started_idx ON cdp.build_runs (started_at);

-- Quarantine: raw bytes that are not UTF-8 (or hold NUL) are kept base64-encoded; a retry that
-- lands the record marks it resolved, and the row stays as the audit trail.
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS raw_encoding TEXT;
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS resolved_at TIMESTAMPTZ;
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS resolved_run_id TEXT;
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS retries INTEGER;
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS last_error TEXT;

-- The client's pacing: 429 answers, seconds waited after them, seconds waited for the budget,
-- and the lease token a run wrote under.
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS throttled BIGINT;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS throttle_wait_seconds DOUBLE PRECISION;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS pace_wait_seconds DOUBLE PRECISION;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS lease_token BIGINT;

-- Which later run closed a discrepancy (a full sync's own landing, or any run after it).
ALTER TABLE cdp.discrepancies ADD COLUMN IF NOT EXISTS fixed_run_id TEXT;
