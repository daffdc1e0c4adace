-- The fleet's hours (the Overview's charts) read a range of hours across every tenant: by hour
-- first. DuckDB needs none of these: its row groups' min/max statistics skip what is outside the
-- range, since these tables grow in time order.
CREATE INDEX IF NOT EXISTS capture_hours_hour_idx ON cdp.capture_hours (hour);
CREATE INDEX IF NOT EXISTS sync_runs_started_idx ON cdp.sync_runs (started_at);
CREATE INDEX IF NOT EXISTS landing_batches_landed_idx ON cdp.landing_batches (landed_at);
-- Notifications waiting per tenant: only the few unprocessed rows, whatever the inbox's history.
CREATE INDEX IF NOT EXISTS hook_inbox_waiting_idx ON cdp.hook_inbox (tenant_id) WHERE processed_at IS NULL;
