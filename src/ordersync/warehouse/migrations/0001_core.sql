-- ordersync core schema. Runs unchanged on DuckDB and PostgreSQL.
CREATE SEQUENCE IF NOT EXISTS cdp.tenant_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS cdp.landing_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS cdp.quarantine_id_seq START 1;

CREATE TABLE IF NOT EXISTS cdp.tenants (
    tenant_id              INTEGER PRIMARY KEY DEFAULT nextval('cdp.tenant_id_seq'),
    tenant_name            TEXT NOT NULL UNIQUE,
    sync_enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    sync_frequency_hours   INTEGER NOT NULL DEFAULT 6,
    last_sync_at           TIMESTAMPTZ,
    go_live_date           DATE,
    initial_sync_completed BOOLEAN NOT NULL DEFAULT FALSE,
    is_active              BOOLEAN NOT NULL DEFAULT TRUE,
    platform               TEXT NOT NULL DEFAULT 'vtex',
    account                TEXT NOT NULL,
    base_url               TEXT NOT NULL,
    app_key_env            TEXT,
    app_token_env          TEXT,
    timezone               TEXT NOT NULL DEFAULT 'America/Argentina/Buenos_Aires',
    created_at             TIMESTAMPTZ NOT NULL
);

-- One row per (tenant, stream): how far that stream has been read and committed.
CREATE TABLE IF NOT EXISTS cdp.sync_checkpoints (
    tenant_id   INTEGER NOT NULL,
    stream      TEXT NOT NULL,
    position    TIMESTAMPTZ NOT NULL,
    run_id      TEXT,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, stream)
);

CREATE TABLE IF NOT EXISTS cdp.sync_runs (
    run_id           TEXT PRIMARY KEY,
    tenant_id        INTEGER NOT NULL,
    mode             TEXT NOT NULL,
    status           TEXT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    window_start     TIMESTAMPTZ,
    window_end       TIMESTAMPTZ,
    orders_listed    BIGINT NOT NULL DEFAULT 0,
    orders_fetched   BIGINT NOT NULL DEFAULT 0,
    versions_landed  BIGINT NOT NULL DEFAULT 0,
    late_versions    BIGINT NOT NULL DEFAULT 0,
    quarantined      BIGINT NOT NULL DEFAULT 0,
    list_calls       BIGINT NOT NULL DEFAULT 0,
    get_calls        BIGINT NOT NULL DEFAULT 0,
    retries          BIGINT NOT NULL DEFAULT 0,
    worker_id        TEXT,
    error            TEXT
);

-- Append-only: every version of every order, stamped with when it landed.
CREATE TABLE IF NOT EXISTS cdp.orders_landing (
    landing_id         BIGINT NOT NULL DEFAULT nextval('cdp.landing_id_seq'),
    tenant_id          INTEGER NOT NULL,
    order_id           TEXT NOT NULL,
    event_time         TIMESTAMPTZ NOT NULL,
    event_ingested_at  TIMESTAMPTZ,
    order_date         DATE NOT NULL,
    creation_date      TIMESTAMPTZ NOT NULL,
    status             TEXT,
    total_value        NUMERIC(18, 2) NOT NULL,
    currency_code      TEXT,
    sales_channel      TEXT,
    customer_id        TEXT,
    customer_email     TEXT,
    customer_name      TEXT,
    payload            TEXT NOT NULL,
    payload_hash       TEXT NOT NULL,
    source             TEXT NOT NULL,
    run_id             TEXT
);

CREATE TABLE IF NOT EXISTS cdp.quarantine (
    quarantine_id   BIGINT PRIMARY KEY DEFAULT nextval('cdp.quarantine_id_seq'),
    tenant_id       INTEGER NOT NULL,
    source          TEXT NOT NULL,
    run_id          TEXT,
    order_id        TEXT,
    reason          TEXT NOT NULL,
    raw             TEXT NOT NULL,
    quarantined_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS sync_runs_tenant_idx ON cdp.sync_runs (tenant_id, started_at);
