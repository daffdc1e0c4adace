-- A push token's own items-a-minute budget: NULL keeps `[serve] max_items_per_minute`. A server-side
-- integration may be given more than the default while a token inside a phone app keeps it.
ALTER TABLE cdp.api_tokens ADD COLUMN IF NOT EXISTS max_items_per_minute INTEGER;
