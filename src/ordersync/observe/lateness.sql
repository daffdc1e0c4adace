-- Lateness of one tenant's landed versions, per order date and source (ordersync lateness).
--
-- Lateness is event_ingested_at - event_time: how long after the change happened at the source
-- ordersync landed it. Seconds from epochs, so the same text runs on DuckDB and PostgreSQL.
-- A legacy row without event_ingested_at counts as on time (lateness 0), as the models treat it.
--
-- Each bucket holds its upper bound (exactly 1 hour late is upto_1h, exactly 7 days is 3d_7d), so
-- with the default settings over_7d is exactly the versions over the lateness budget and
-- 3d_7d + over_7d exactly those after the lookback.
--
-- after_lookback: versions that landed more than lookback_days after their event time, i.e. later
-- than the window the seed's processing-time lookback re-reads (3 days by default). That plan
-- treats whatever changed longer ago than its lookback as settled, and its event-time predicate
-- before it dropped such versions outright. fct_orders still builds every one of them (its window
-- is on processing time, the landing ledger's range covers what that misses, and the version guard
-- keeps a stale one from overwriting a newer one); the share says how much of a day's versions
-- revised what a lookback-only pipeline would already have called final.
--
-- over_budget: versions later than [sync] lateness_budget_days. They are landed and counted like
-- any other; this column is the flag, computed here, nothing is dropped for being late.
--
-- clock_skew: versions whose event time is after they landed (the source's clock ahead of the
-- warehouse's). Their lateness is negative; they fall in upto_1h and are counted here as well.
--
-- Parameters, in order: lookback seconds, budget seconds, the buckets' five upper bounds in seconds
-- (observe/lateness.py BUCKET_BOUNDS: 1 h, 6 h, 24 h, 3 d, 7 d), tenant_id, first order date.
WITH thresholds AS (
    SELECT
        CAST(? AS DOUBLE PRECISION) AS lookback_seconds,
        CAST(? AS DOUBLE PRECISION) AS budget_seconds,
        CAST(? AS DOUBLE PRECISION) AS upto_1h,
        CAST(? AS DOUBLE PRECISION) AS upto_6h,
        CAST(? AS DOUBLE PRECISION) AS upto_24h,
        CAST(? AS DOUBLE PRECISION) AS upto_3d,
        CAST(? AS DOUBLE PRECISION) AS upto_7d
),

versions AS (
    SELECT
        l.order_date,
        l.source,
        l.event_ingested_at IS NULL AS unstamped,
        coalesce(
            CAST(extract(epoch FROM l.event_ingested_at) - extract(epoch FROM l.event_time) AS DOUBLE PRECISION),
            0
        ) AS lateness_seconds
    FROM cdp.orders_landing AS l
    WHERE l.tenant_id = ?
        AND l.order_date >= CAST(? AS DATE)
)

SELECT
    v.order_date,
    v.source,
    count(*) AS versions,
    count(*) FILTER (WHERE v.lateness_seconds <= t.upto_1h) AS upto_1h,
    count(*) FILTER (WHERE v.lateness_seconds > t.upto_1h AND v.lateness_seconds <= t.upto_6h) AS "1h_6h",
    count(*) FILTER (WHERE v.lateness_seconds > t.upto_6h AND v.lateness_seconds <= t.upto_24h) AS "6h_24h",
    count(*) FILTER (WHERE v.lateness_seconds > t.upto_24h AND v.lateness_seconds <= t.upto_3d) AS "1d_3d",
    count(*) FILTER (WHERE v.lateness_seconds > t.upto_3d AND v.lateness_seconds <= t.upto_7d) AS "3d_7d",
    count(*) FILTER (WHERE v.lateness_seconds > t.upto_7d) AS over_7d,
    count(*) FILTER (WHERE v.lateness_seconds > t.lookback_seconds) AS after_lookback,
    count(*) FILTER (WHERE v.lateness_seconds > t.budget_seconds) AS over_budget,
    count(*) FILTER (WHERE v.lateness_seconds < 0) AS clock_skew,
    count(*) FILTER (WHERE v.unstamped) AS unstamped,
    max(v.lateness_seconds) AS max_lateness_seconds
FROM versions AS v
CROSS JOIN thresholds AS t
GROUP BY v.order_date, v.source
ORDER BY v.order_date, v.source
