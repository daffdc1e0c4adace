-- Orders whose person `ordersync customers forget` took out, by id alone: their later versions land
-- redacted (land/redaction.py), and the customers step leaves them out of every customer.
CREATE TABLE IF NOT EXISTS cdp.forgotten_orders (
    tenant_id     INTEGER NOT NULL,
    order_id      TEXT NOT NULL,
    forgotten_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);
