-- What cdp.orders_landing holds per tenant, and per tenant, order date and source, kept from the
-- landing ledger as batches are sealed (observe/summaries.py), so `status`, the Overview and the
-- lateness histogram read a few rows per tenant instead of scanning every version.
-- `verify --checks summaries` compares both tables with a full scan.

CREATE TABLE IF NOT EXISTS cdp.tenant_summaries (
    tenant_id       INTEGER NOT NULL,
    -- distinct order ids landed
    orders          BIGINT NOT NULL,
    versions        BIGINT NOT NULL,
    -- the newest event_ingested_at
    last_landed_at  TIMESTAMPTZ
);

-- Lateness counts by observe/lateness.py's buckets (each holds its upper bound). `orders` counts
-- each (order, order date) once, under the source that first landed it, so a day's orders are the
-- sum over its sources.
CREATE TABLE IF NOT EXISTS cdp.tenant_day_summaries (
    tenant_id             INTEGER NOT NULL,
    order_date            DATE NOT NULL,
    source                TEXT NOT NULL,
    orders                BIGINT NOT NULL,
    versions              BIGINT NOT NULL,
    upto_1h               BIGINT NOT NULL,
    "1h_6h"               BIGINT NOT NULL,
    "6h_24h"              BIGINT NOT NULL,
    "1d_3d"               BIGINT NOT NULL,
    "3d_7d"               BIGINT NOT NULL,
    over_7d               BIGINT NOT NULL,
    clock_skew            BIGINT NOT NULL,
    unstamped             BIGINT NOT NULL,
    max_lateness_seconds  DOUBLE PRECISION NOT NULL
);

-- Per tenant, the orders cdp.fct_orders held after the last build (counted as each build ends), so
-- `status` and the Overview need not count the table on every read.
CREATE TABLE IF NOT EXISTS cdp.tenant_built (
    tenant_id   INTEGER NOT NULL,
    orders      BIGINT NOT NULL,
    counted_at  TIMESTAMPTZ NOT NULL
);
