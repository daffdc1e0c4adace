-- The [orders] settings each tenant's customers are scored under (what a purchase is), and the applied
-- restatement plan that brought them in: a change of [orders] reaches customers only through its
-- restatement plan, once applied, as it reaches revenue_daily (customers/orders_rule.py).
CREATE TABLE IF NOT EXISTS cdp.customer_orders_settings (
    tenant_id      INTEGER PRIMARY KEY,
    settings       TEXT NOT NULL,
    settings_hash  TEXT NOT NULL,
    plan_id        TEXT,
    adopted_at     TIMESTAMPTZ NOT NULL
);
