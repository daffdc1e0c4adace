-- The worker: leases so several processes never sync one tenant at once, real (wall-clock) run
-- times for lease audits, and the per-day reconciliation of full syncs against the source.
CREATE TABLE IF NOT EXISTS cdp.tenant_leases (
    tenant_id    INTEGER PRIMARY KEY,
    worker_id    TEXT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL,
    acquired_at  TIMESTAMPTZ NOT NULL
);

ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS wall_started_at TIMESTAMPTZ;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS wall_finished_at TIMESTAMPTZ;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS attempt INTEGER;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS discrepancies BIGINT;
ALTER TABLE cdp.sync_runs ADD COLUMN IF NOT EXISTS discrepancies_fixed BIGINT;

CREATE SEQUENCE IF NOT EXISTS cdp.discrepancy_id_seq START 1;

-- One row per (tenant, day) found different from the source by a full sync, and whether landing
-- what was missing fixed it.
CREATE TABLE IF NOT EXISTS cdp.discrepancies (
    discrepancy_id    BIGINT PRIMARY KEY DEFAULT nextval('cdp.discrepancy_id_seq'),
    tenant_id         INTEGER NOT NULL,
    run_id            TEXT NOT NULL,
    order_date        DATE NOT NULL,
    source_orders     BIGINT NOT NULL,
    source_total      NUMERIC(18, 2) NOT NULL,
    warehouse_orders  BIGINT NOT NULL,
    warehouse_total   NUMERIC(18, 2) NOT NULL,
    found_at          TIMESTAMPTZ NOT NULL,
    fixed             BOOLEAN NOT NULL DEFAULT FALSE,
    fixed_at          TIMESTAMPTZ,
    after_orders      BIGINT,
    after_total       NUMERIC(18, 2)
);
