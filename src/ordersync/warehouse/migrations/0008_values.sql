-- No value can break a build: sums of money are NUMERIC(38, 2) (transform/dbt/macros/money.sql).
-- revenue_daily is created by its first build, so its columns are widened only where it exists.
ALTER TABLE IF EXISTS cdp.revenue_daily ALTER COLUMN revenue TYPE NUMERIC(38, 2);
ALTER TABLE IF EXISTS cdp.revenue_daily ALTER COLUMN pending_value TYPE NUMERIC(38, 2);
ALTER TABLE IF EXISTS cdp.revenue_daily ALTER COLUMN canceled_value TYPE NUMERIC(38, 2);
ALTER TABLE IF EXISTS cdp.revenue_daily ALTER COLUMN average_order_value TYPE NUMERIC(38, 2);
ALTER TABLE IF EXISTS cdp.revenue_daily ALTER COLUMN previous_revenue TYPE NUMERIC(38, 2);
ALTER TABLE cdp.revision_notices ALTER COLUMN revenue_before TYPE NUMERIC(38, 2);
ALTER TABLE cdp.revision_notices ALTER COLUMN revenue_after TYPE NUMERIC(38, 2);
ALTER TABLE cdp.revision_notices ALTER COLUMN delta TYPE NUMERIC(38, 2);
-- A day's totals found by reconciliation are sums too.
ALTER TABLE cdp.discrepancies ALTER COLUMN source_total TYPE NUMERIC(38, 2);
ALTER TABLE cdp.discrepancies ALTER COLUMN warehouse_total TYPE NUMERIC(38, 2);
ALTER TABLE cdp.discrepancies ALTER COLUMN after_total TYPE NUMERIC(38, 2);

-- Withdrawn versions (`ordersync quarantine add`): landed versions the models ignore, one of an
-- order (payload_hash) or all of them (payload_hash null), until released. The landing ledger keeps
-- every version; stg_orders leaves these out. `version` counts the changes (withdrawn, released) and
-- `built_version` the last one a successful build applied: a build re-picks the orders of the rows
-- where they differ, whatever the version guard says.
CREATE SEQUENCE IF NOT EXISTS cdp.withdrawal_id_seq START 1;
CREATE TABLE IF NOT EXISTS cdp.withdrawals (
    withdrawal_id   BIGINT NOT NULL DEFAULT nextval('cdp.withdrawal_id_seq'),
    tenant_id       INTEGER NOT NULL,
    order_id        TEXT NOT NULL,
    payload_hash    TEXT,
    reason          TEXT NOT NULL,
    withdrawn_by    TEXT NOT NULL,
    withdrawn_at    TIMESTAMPTZ NOT NULL,
    released_by     TEXT,
    released_at     TIMESTAMPTZ,
    release_reason  TEXT,
    version         INTEGER NOT NULL DEFAULT 1,
    built_version   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, withdrawal_id)
);
CREATE INDEX IF NOT EXISTS withdrawals_order_idx ON cdp.withdrawals (tenant_id, order_id);

-- A build that failed because of some tenants' data builds the others and names those it left out.
ALTER TABLE cdp.build_runs ADD COLUMN IF NOT EXISTS failed_tenants TEXT;
-- Tenants the last builds left out, and from where the ledger must be read again for them once
-- they build: `since_seq` (the cursor when first left out) and the revenue_daily position
-- (`fct_consumed`, the newest fct_orders build it had read) then.
CREATE TABLE IF NOT EXISTS cdp.held_tenants (
    tenant_id     INTEGER PRIMARY KEY,
    since_seq     BIGINT NOT NULL,
    fct_consumed  TIMESTAMPTZ,
    held_at       TIMESTAMPTZ NOT NULL,
    build_id      BIGINT NOT NULL,
    error         TEXT NOT NULL
);
