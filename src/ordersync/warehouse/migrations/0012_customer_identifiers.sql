-- Customer identifiers read as a version lands (land/records.py, identifier_field): the document, its
-- type and the phone, as sent and trimmed. The customers room checks and normalises them from these
-- columns and never parses a payload. Rows landed before them are filled once from their payloads
-- by the companion files (the SQL differs by backend; the rule is identifier_field's).
ALTER TABLE cdp.orders_landing ADD COLUMN IF NOT EXISTS customer_document TEXT;
ALTER TABLE cdp.orders_landing ADD COLUMN IF NOT EXISTS customer_document_type TEXT;
ALTER TABLE cdp.orders_landing ADD COLUMN IF NOT EXISTS customer_phone TEXT;

-- fct_orders carries them. It is created by its first build, so the columns are added only where
-- the table already exists (the model adds them on new ones), never by a full refresh.
ALTER TABLE IF EXISTS cdp.fct_orders ADD COLUMN IF NOT EXISTS customer_document TEXT;
ALTER TABLE IF EXISTS cdp.fct_orders ADD COLUMN IF NOT EXISTS customer_document_type TEXT;
ALTER TABLE IF EXISTS cdp.fct_orders ADD COLUMN IF NOT EXISTS customer_phone TEXT;

-- Columns a migration added to a model's rows already built, left for the next build to fill from
-- the landed rows (a migration cannot name a table that may not exist yet). The build that fills a
-- tenant's rows removes its row here, in the same transaction (fct_orders' fill_pending hook).
CREATE TABLE IF NOT EXISTS cdp.pending_fills (
    tenant_id   INTEGER NOT NULL,
    fill        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, fill)
);
INSERT INTO cdp.pending_fills (tenant_id, fill, created_at)
SELECT t.tenant_id, 'customer_identifiers', now()
FROM (SELECT DISTINCT tenant_id FROM cdp.orders_landing) AS t
WHERE EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = 'cdp' AND table_name = 'fct_orders')
    AND NOT EXISTS (
        SELECT 1 FROM cdp.pending_fills AS p WHERE p.tenant_id = t.tenant_id AND p.fill = 'customer_identifiers'
    );
