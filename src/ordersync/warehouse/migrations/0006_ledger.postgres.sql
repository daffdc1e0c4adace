-- PostgreSQL-only: seal() finds the unsealed batches without reading the sealed ones, and a build
-- finds the rows of its batch range without a scan of cdp.orders_landing (rows landed before the
-- ledger have no batch and stay out of the index).
CREATE INDEX IF NOT EXISTS landing_batches_unsealed_idx ON cdp.landing_batches (batch_id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS orders_landing_batch_idx ON cdp.orders_landing (batch_id) WHERE batch_id IS NOT NULL;
