-- Change capture recorded: what the feed's rounds and the hook's fetches did, which lived only in
-- the memory of the process that ran them. Two tables, both small whatever the traffic: the latest
-- round per tenant and stream, kept in place, and per-hour totals (a feed polled every minute for
-- 1,000 tenants is 1.4 million rounds a day; its hours are 48,000 rows).
-- `stream` is 'feed' (VTEX Feed v3) or 'hook' (VTEX Hook). Times are ordersync's clock.

-- Per tenant and stream: its latest round, its latest round that went well, and its latest event.
CREATE TABLE IF NOT EXISTS cdp.capture_state (
    tenant_id        INTEGER NOT NULL,
    stream           TEXT NOT NULL,
    -- when the latest round began, its outcome (outcomes.RoundStatus) and its error
    last_round_at    TIMESTAMPTZ,
    last_status      TEXT,
    last_error       TEXT,
    -- when the latest round without an error began
    last_ok_at       TIMESTAMPTZ,
    -- feed: when a round last read an event; hook: when the last notification arrived
    last_event_at    TIMESTAMPTZ,
    -- feed: at the latest round, how long the oldest change it read had waited (0: the feed was
    -- empty); hook: null
    lag_seconds      DOUBLE PRECISION,
    PRIMARY KEY (tenant_id, stream)
);

-- Per tenant, stream and hour (UTC, the hour a round began in): its rounds and what they did.
-- requests counts every call to the store (feed reads and commits, get-order, retries included),
-- throttled those answered 429, as cdp.sync_runs does for the pull.
CREATE TABLE IF NOT EXISTS cdp.capture_hours (
    tenant_id    INTEGER NOT NULL,
    stream       TEXT NOT NULL,
    hour         TIMESTAMPTZ NOT NULL,
    rounds       BIGINT NOT NULL DEFAULT 0,
    -- rounds that failed, or fetched only some of their orders
    failed       BIGINT NOT NULL DEFAULT 0,
    -- feed events read, or hook notifications taken from the inbox
    events       BIGINT NOT NULL DEFAULT 0,
    fetched      BIGINT NOT NULL DEFAULT 0,
    landed       BIGINT NOT NULL DEFAULT 0,
    quarantined  BIGINT NOT NULL DEFAULT 0,
    requests     BIGINT NOT NULL DEFAULT 0,
    throttled    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, stream, hour)
);
