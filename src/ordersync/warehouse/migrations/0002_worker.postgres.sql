-- PostgreSQL-only: each dbt build finds its lookback window by processing time; without this
-- index that is a scan of all of cdp.orders_landing.
CREATE INDEX IF NOT EXISTS orders_landing_processed_idx
    ON cdp.orders_landing ((coalesce(event_ingested_at, event_time)));
