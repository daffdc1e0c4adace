-- PostgreSQL: the constraint is dropped in place.
ALTER TABLE cdp.api_tokens ALTER COLUMN tenant_id DROP NOT NULL;
