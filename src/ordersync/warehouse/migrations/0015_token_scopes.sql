-- Tokens get a scope: 'push' (land one tenant's orders: every token made before this migration),
-- 'read' (read one tenant's data in the API and pages), 'admin' (every tenant, and the actions:
-- plan approval, quarantine retry; its label is the name recorded as the reviewer) and 'metrics'
-- (scrape /metrics). Admin and metrics tokens belong to no tenant: tenant_id becomes nullable,
-- which each backend does its own way (the companion files).
ALTER TABLE cdp.api_tokens ADD COLUMN IF NOT EXISTS scope TEXT DEFAULT 'push';
UPDATE cdp.api_tokens SET scope = 'push' WHERE scope IS NULL;

-- Browser sessions, made by logging in with a token: kept here (not in a serve's memory) so any
-- serve process on PostgreSQL knows them. Only a SHA-256 of the session id is stored; a session
-- ends at logout, when it expires, or as soon as its token is revoked (the look-up joins the token).
CREATE TABLE IF NOT EXISTS cdp.web_sessions (
    session_hash  TEXT PRIMARY KEY,
    token_id      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS web_sessions_token_idx ON cdp.web_sessions (token_id);
