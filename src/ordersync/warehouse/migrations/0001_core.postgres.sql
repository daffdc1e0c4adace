-- PostgreSQL-only physical choices for 0001 (same columns, same types as DuckDB).
-- lz4 makes the raw payload about 2x cheaper to land than plain text (docs/benchmarks.md).
ALTER TABLE cdp.orders_landing ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE cdp.quarantine ALTER COLUMN raw SET COMPRESSION lz4;
-- Dedupe of identical payloads and the "what do we already have" lookup both use this index.
CREATE UNIQUE INDEX IF NOT EXISTS orders_landing_version_uq
    ON cdp.orders_landing (tenant_id, order_id, payload_hash);
CREATE INDEX IF NOT EXISTS orders_landing_ingested_idx ON cdp.orders_landing (event_ingested_at);
