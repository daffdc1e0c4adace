-- Revisions: what revenue_daily needs to find the days a build changed, the outbox of revision
-- notices, reviewed backfill and restatement plans, and the re-merges an applied plan leaves for
-- the next build.

-- The day an order was on before a build moved it (its creation date changed, or the tenant's time
-- zone did): revenue_daily recomputes that day too. fct_orders is created by its first build, so
-- the column is added only where the table already exists; the model adds it on new ones.
ALTER TABLE IF EXISTS cdp.fct_orders ADD COLUMN IF NOT EXISTS replaced_order_date DATE;

-- The outbox of revision notices: one row per revision of a closed day's revenue, written by the
-- revenue_daily build in the transaction that revised it. notice_id is stable (tenant, day,
-- currency and the revising build), so a resend after a crash carries the same id.
CREATE TABLE IF NOT EXISTS cdp.revision_notices (
    notice_id       TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    order_date      DATE NOT NULL,
    currency_code   TEXT NOT NULL,
    revenue_before  NUMERIC(18, 2) NOT NULL,
    revenue_after   NUMERIC(18, 2) NOT NULL,
    delta           NUMERIC(18, 2) NOT NULL,
    orders_changed  INTEGER NOT NULL,
    -- the ledger as known before and after the revising build: `ordersync revenue diff --as-of
    -- known_before --against known_after` lists the orders that caused it
    known_before    TIMESTAMPTZ,
    known_after     TIMESTAMPTZ,
    revised_at      TIMESTAMPTZ NOT NULL
);

-- One row per (notice, webhook): attempts, the next one, and when it was delivered. A webhook is
-- named by the environment variable holding its URL (the URL is a secret and is never stored).
CREATE TABLE IF NOT EXISTS cdp.notice_deliveries (
    notice_id        TEXT NOT NULL,
    webhook          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    given_up_at      TIMESTAMPTZ,
    last_error       TEXT,
    PRIMARY KEY (notice_id, webhook)
);

-- Backfill and restatement plans: drafted, reviewed, applied. A plan's document (body) never
-- changes once drafted; only its review and apply columns do.
CREATE TABLE IF NOT EXISTS cdp.plans (
    plan_id       TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    author        TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    scope         TEXT NOT NULL,
    body          TEXT NOT NULL,
    body_hash     TEXT NOT NULL,
    reviewed_by   TEXT,
    reviewed_at   TIMESTAMPTZ,
    applied_at    TIMESTAMPTZ,
    applied_by    TEXT,
    result        TEXT
);

-- The versions a backfill plan read from the source and would land, kept with the plan so apply
-- lands exactly what was reviewed.
CREATE TABLE IF NOT EXISTS cdp.plan_versions (
    plan_id       TEXT NOT NULL,
    tenant_id     INTEGER NOT NULL,
    order_id      TEXT NOT NULL,
    payload_hash  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    PRIMARY KEY (plan_id, tenant_id, order_id, payload_hash)
);

-- Days an applied plan re-merges into fct_orders (whatever the lookback, through the version
-- guard) and recomputes in revenue_daily. Written in the plan's apply transaction and removed by
-- the build that did it, so a build killed half-way leaves them for the next one.
CREATE TABLE IF NOT EXISTS cdp.pending_restatements (
    plan_id     TEXT NOT NULL,
    tenant_id   INTEGER NOT NULL,
    day_from    DATE NOT NULL,
    day_to      DATE NOT NULL,
    remerge     BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (plan_id, tenant_id, day_from)
);
