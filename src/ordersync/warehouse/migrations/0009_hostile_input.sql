-- The same bad bytes are quarantined once per tenant: a hash of the raw bytes (blake2b-128, the
-- same hash as a version's payload_hash), unique per tenant. Rows from before it have none: NULLs
-- never clash, so they stay as they are.
ALTER TABLE cdp.quarantine ADD COLUMN IF NOT EXISTS raw_hash TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_raw_hash_idx ON cdp.quarantine (tenant_id, raw_hash);

-- Idempotency keys expire after [serve] idempotency_hours: claiming a key purges a few expired ones
-- of its tenant, found by this index.
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON cdp.idempotency_keys (tenant_id, created_at);
