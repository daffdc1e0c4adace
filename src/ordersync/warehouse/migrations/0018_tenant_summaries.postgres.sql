-- PostgreSQL-only: a refresh merges into the rows of the keys it touched. DuckDB keeps no index
-- here (its indexes stay in memory); the tables are small and read whole or by tenant.
CREATE UNIQUE INDEX IF NOT EXISTS tenant_summaries_uq ON cdp.tenant_summaries (tenant_id);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_day_summaries_uq ON cdp.tenant_day_summaries (tenant_id, order_date, source);
