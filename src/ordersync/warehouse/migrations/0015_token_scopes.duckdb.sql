-- DuckDB cannot alter a column of a table that has indexes: the table is rebuilt with the same
-- columns, in the same order, and its rows copied; its index is created again.
CREATE TABLE cdp.api_tokens_rebuilt (
    token_id              TEXT PRIMARY KEY,
    tenant_id             INTEGER,
    label                 TEXT,
    token_hash            TEXT NOT NULL UNIQUE,
    created_at            TIMESTAMPTZ NOT NULL,
    revoked_at            TIMESTAMPTZ,
    last_used_at          TIMESTAMPTZ,
    max_items_per_minute  INTEGER,
    scope                 TEXT DEFAULT 'push'
);
INSERT INTO cdp.api_tokens_rebuilt SELECT * FROM cdp.api_tokens;
DROP TABLE cdp.api_tokens;
ALTER TABLE cdp.api_tokens_rebuilt RENAME TO api_tokens;
CREATE INDEX IF NOT EXISTS api_tokens_tenant_idx ON cdp.api_tokens (tenant_id);
