-- Every way in besides the pull: stores without a pull API, push tokens, idempotent retries,
-- ingested files, and the hook's durable inbox.

-- A push-only store has no account, base URL or credentials (platform 'push').
ALTER TABLE cdp.tenants ALTER COLUMN account DROP NOT NULL;
ALTER TABLE cdp.tenants ALTER COLUMN base_url DROP NOT NULL;
-- How changes are captured besides the pull: 'none', 'feed' (VTEX Feed v3) or 'hook' (VTEX Hook).
ALTER TABLE cdp.tenants ADD COLUMN IF NOT EXISTS change_capture TEXT DEFAULT 'none';
-- The Hook's secret header value is checked against this SHA-256, never stored itself.
ALTER TABLE cdp.tenants ADD COLUMN IF NOT EXISTS hook_secret_hash TEXT;

-- Push API tokens: each sees one tenant; only a SHA-256 of the token is kept (tokens are 256
-- random bits, so a slow hash would add nothing).
CREATE TABLE IF NOT EXISTS cdp.api_tokens (
    token_id      TEXT PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    label         TEXT,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);

-- A push retried with the same Idempotency-Key gets the first answer back and lands nothing.
CREATE TABLE IF NOT EXISTS cdp.idempotency_keys (
    tenant_id     INTEGER NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER NOT NULL,
    response      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);

-- Files given to `ordersync ingest`, by content: a file ingested twice lands nothing the second time.
CREATE TABLE IF NOT EXISTS cdp.ingested_files (
    tenant_id     INTEGER NOT NULL,
    file_hash     TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL,
    received      BIGINT NOT NULL,
    landed        BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, file_hash)
);

-- VTEX Hook notifications, written before the 200 goes back (so a receiver killed right after
-- answering loses nothing), then fetched and landed; processed_at is set once landed.
CREATE SEQUENCE IF NOT EXISTS cdp.hook_inbox_id_seq START 1;
CREATE TABLE IF NOT EXISTS cdp.hook_inbox (
    notification_id  BIGINT PRIMARY KEY DEFAULT nextval('cdp.hook_inbox_id_seq'),
    tenant_id        INTEGER NOT NULL,
    order_id         TEXT,
    state            TEXT,
    body             TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    processed_at     TIMESTAMPTZ,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX IF NOT EXISTS hook_inbox_pending_idx ON cdp.hook_inbox (tenant_id, processed_at);
CREATE INDEX IF NOT EXISTS api_tokens_tenant_idx ON cdp.api_tokens (tenant_id);
