-- Customer analytics: identity, profiles, RFM, CLV, journey stages and their change events, kept
-- for exactly the customers each build touched. Every key carries tenant_id (co-located by tenant).

-- The secret customer keys are derived from is never stored: its fingerprint is, so a warehouse
-- refuses a different secret (keys would silently change).
CREATE TABLE IF NOT EXISTS cdp.identity_secret (
    singleton     INTEGER PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Each order's identifiers, normalised (raw personal data: kept here and in the order columns
-- only). kind: platform, document, email, phone. Orders sharing a value are one customer; the
-- value index finds them, and counts the platform ids a value is shared by.
CREATE TABLE IF NOT EXISTS cdp.customer_identifiers (
    tenant_id      INTEGER NOT NULL,
    order_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, kind, value)
);
CREATE INDEX IF NOT EXISTS customer_identifiers_value_idx ON cdp.customer_identifiers (tenant_id, kind, value);

-- Which customer each order belongs to, as of the last step.
CREATE TABLE IF NOT EXISTS cdp.customer_orders (
    tenant_id      INTEGER NOT NULL,
    order_id       TEXT NOT NULL,
    customer_key   TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);
CREATE INDEX IF NOT EXISTS customer_orders_key_idx ON cdp.customer_orders (tenant_id, customer_key);

-- Merges and splits, recorded by key alone.
CREATE TABLE IF NOT EXISTS cdp.customer_links (
    tenant_id      INTEGER NOT NULL,
    link_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    surviving_key  TEXT NOT NULL,
    other_keys     TEXT NOT NULL,
    linked_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, link_id)
);

CREATE TABLE IF NOT EXISTS cdp.customer_profiles (
    tenant_id                INTEGER NOT NULL,
    customer_key             TEXT NOT NULL,
    orders                   INTEGER NOT NULL,
    purchases                INTEGER NOT NULL,
    purchase_days            INTEGER NOT NULL,
    first_purchase_at        TIMESTAMPTZ,
    last_purchase_at         TIMESTAMPTZ,
    net_revenue              NUMERIC(20, 2) NOT NULL,
    average_order_value      NUMERIC(20, 2),
    currency_code            TEXT,
    preferred_sales_channel  TEXT,
    last_status              TEXT,
    updated_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, customer_key)
);

-- Versions are content hashes: the same edges, the same version.
CREATE TABLE IF NOT EXISTS cdp.rfm_breakpoints (
    tenant_id      INTEGER NOT NULL,
    version        TEXT NOT NULL,
    period_start   DATE NOT NULL,
    method         TEXT NOT NULL,
    edges          TEXT NOT NULL,
    thresholds     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE IF NOT EXISTS cdp.customer_rfm (
    tenant_id            INTEGER NOT NULL,
    customer_key         TEXT NOT NULL,
    recency_days         INTEGER,
    frequency            INTEGER NOT NULL,
    monetary             NUMERIC(20, 2) NOT NULL,
    r_score              INTEGER,
    f_score              INTEGER,
    m_score              INTEGER,
    segment              TEXT,
    previous_segment     TEXT,
    segment_changed_at   DATE,
    breakpoints_version  TEXT,
    scored_for           DATE NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, customer_key)
);

CREATE TABLE IF NOT EXISTS cdp.clv_models (
    tenant_id      INTEGER NOT NULL,
    version        TEXT NOT NULL,
    fit_date       DATE NOT NULL,
    time_unit      TEXT NOT NULL,
    ready          BOOLEAN NOT NULL,
    reason         TEXT,
    params         TEXT NOT NULL,
    report         TEXT NOT NULL,
    fitted_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE IF NOT EXISTS cdp.customer_clv (
    tenant_id             INTEGER NOT NULL,
    customer_key          TEXT NOT NULL,
    model_version         TEXT NOT NULL,
    p_alive               DOUBLE PRECISION,
    expected_30d          DOUBLE PRECISION,
    expected_90d          DOUBLE PRECISION,
    expected_365d         DOUBLE PRECISION,
    expected_spend        NUMERIC(20, 2),
    clv_12m               NUMERIC(20, 2),
    scored_for            DATE NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, customer_key)
);

CREATE TABLE IF NOT EXISTS cdp.customer_journey (
    tenant_id          INTEGER NOT NULL,
    customer_key       TEXT NOT NULL,
    stage              TEXT NOT NULL,
    previous_stage     TEXT,
    stage_changed_at   DATE NOT NULL,
    scored_for         DATE NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, customer_key)
);

-- Change events, written in the change's transaction with a stable id (a retried step writes none
-- twice), delivered in batches of at most 500 (batch_id) to every webhook in webhook_url_envs.
CREATE TABLE IF NOT EXISTS cdp.customer_events (
    tenant_id      INTEGER NOT NULL,
    event_id       TEXT NOT NULL,
    customer_key   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    from_value     TEXT,
    to_value       TEXT,
    occurred_on    DATE NOT NULL,
    initial        BOOLEAN NOT NULL,
    batch_id       TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX IF NOT EXISTS customer_events_batch_idx ON cdp.customer_events (tenant_id, batch_id);

CREATE TABLE IF NOT EXISTS cdp.customer_event_deliveries (
    tenant_id        INTEGER NOT NULL,
    batch_id         TEXT NOT NULL,
    webhook          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    given_up_at      TIMESTAMPTZ,
    last_error       TEXT,
    PRIMARY KEY (tenant_id, batch_id, webhook)
);

-- Where each tenant's customers stand: the fct_orders rows caught up to (built_at), the date the
-- scores are for, the last sweep and full recompute.
CREATE TABLE IF NOT EXISTS cdp.customer_state (
    tenant_id          INTEGER PRIMARY KEY,
    caught_up_to       TIMESTAMPTZ,
    scoring_date       DATE,
    last_sweep_date    DATE,
    last_full_at       TIMESTAMPTZ,
    initialised_at     TIMESTAMPTZ
);

-- Every step, sweep, full recompute and refit: what it did and found.
CREATE TABLE IF NOT EXISTS cdp.customer_runs (
    tenant_id      INTEGER NOT NULL,
    run_id         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    scoring_date   DATE,
    customers      INTEGER,
    changes        INTEGER,
    findings       TEXT,
    error          TEXT,
    PRIMARY KEY (tenant_id, run_id)
);

-- `customers forget`: recorded by key alone; later versions of the person's orders are redacted
-- as they land.
CREATE TABLE IF NOT EXISTS cdp.customer_forgotten (
    tenant_id      INTEGER NOT NULL,
    customer_key   TEXT NOT NULL,
    forgotten_by   TEXT NOT NULL,
    forgotten_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, customer_key)
);

-- The country a tenant's documents and phones are read for (`tenants set NAME --country BR`);
-- NULL: from its time zone.
ALTER TABLE cdp.tenants ADD COLUMN IF NOT EXISTS country TEXT;
