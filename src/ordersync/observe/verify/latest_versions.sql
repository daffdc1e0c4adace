-- ordersync verify: does fct_orders hold the latest landed version of every order? A full audit
-- scan of cdp.orders_landing and cdp.fct_orders (not the build's incremental path).
--
-- A deliberate oracle: this file restates the models' newest-version order in its own SQL on
-- purpose (not rendered from the dbt macros), so a mistake in the models shows here as a finding
-- instead of being shared by the check. Change it only when the rule itself changes.
--
-- "Latest" is the models' order (transform/dbt/macros/order_versions.sql): the greater event_time,
-- then the greater coalesce(event_ingested_at, event_time), then the greater payload_hash in byte
-- order ({byte_order} is COLLATE "C" on PostgreSQL, nothing on DuckDB, whose text compares bytes).
--
-- A version is built once a successful build consumed its landing batch (the batch's seq is at
-- most the fct_orders ledger cursor, built_through below) or when it has no batch (rows landed
-- before the ledger existed). A version in a later batch may not have been read by any build yet,
-- so an order whose latest version is not built yet is `awaiting_build` (not a failure) when
-- fct_orders holds its latest built version, or none while it has no built version at all.
--
-- One row per finding: kind, count of the kind, and up to 5 example orders per kind:
--   ok              fct_orders holds the latest version, with the landed row's columns
--   missing         a landed order with a built version is not in fct_orders
--   stale           fct_orders holds another version than the latest (and than the latest built)
--   differs         fct_orders holds the latest version's payload_hash but other column values
--   extra           fct_orders holds an order that never landed
--   duplicate       fct_orders holds the order more than once
--   awaiting_build  the latest version landed after the last successful build consumed its batch
--
-- Parameters, in order: tenant_id (NULL: every tenant), the fct_orders ledger cursor.
WITH params AS (
    SELECT
        CAST(? AS INTEGER) AS tenant_id,
        CAST(? AS BIGINT) AS built_through
),

versions AS (
    SELECT
        l.tenant_id,
        l.order_id,
        l.event_time,
        l.order_date,
        l.status,
        l.total_value,
        l.currency_code,
        l.payload_hash,
        l.batch_id IS NULL OR coalesce(b.seq <= p.built_through, FALSE) AS built,
        row_number() OVER (
            PARTITION BY l.tenant_id, l.order_id
            ORDER BY
                l.event_time DESC,
                coalesce(l.event_ingested_at, l.event_time) DESC,
                l.payload_hash {byte_order} DESC
        ) AS version_rank
    FROM cdp.orders_landing AS l
    CROSS JOIN params AS p
    LEFT JOIN cdp.landing_batches AS b ON b.tenant_id = l.tenant_id AND b.batch_id = l.batch_id
    WHERE (p.tenant_id IS NULL OR l.tenant_id = p.tenant_id)
        -- withdrawn versions (`ordersync quarantine add`) are not the models' to hold
        AND NOT EXISTS (
            SELECT 1 FROM cdp.withdrawals AS w
            WHERE w.tenant_id = l.tenant_id AND w.order_id = l.order_id AND w.released_at IS NULL
                AND (w.payload_hash IS NULL OR w.payload_hash = l.payload_hash)
        )
),

built_ranked AS (
    SELECT
        tenant_id,
        order_id,
        payload_hash,
        row_number() OVER (
            PARTITION BY tenant_id, order_id
            ORDER BY version_rank
        ) AS built_rank
    FROM versions
    WHERE built
),

latest AS (
    SELECT
        v.*,
        bv.payload_hash AS built_hash
    FROM versions AS v
    LEFT JOIN built_ranked AS bv
        ON bv.tenant_id = v.tenant_id
        AND bv.order_id = v.order_id
        AND bv.built_rank = 1
    WHERE v.version_rank = 1
),

fct AS (
    SELECT
        o.tenant_id,
        o.order_id,
        count(*) AS copies,
        min(o.payload_hash) AS payload_hash,
        min(o.event_time) AS event_time,
        min(o.order_date) AS order_date,
        min(o.status) AS status,
        min(o.total_value) AS total_value,
        min(o.currency_code) AS currency_code
    FROM cdp.fct_orders AS o
    CROSS JOIN params AS p
    WHERE p.tenant_id IS NULL OR o.tenant_id = p.tenant_id
    GROUP BY o.tenant_id, o.order_id
),

findings AS (
    SELECT
        coalesce(f.tenant_id, l.tenant_id) AS tenant_id,
        coalesce(f.order_id, l.order_id) AS order_id,
        CASE
            WHEN f.copies > 1 THEN 'duplicate'
            WHEN l.order_id IS NULL THEN 'extra'
            WHEN f.order_id IS NULL AND l.built_hash IS NULL THEN 'awaiting_build'
            WHEN f.order_id IS NULL THEN 'missing'
            WHEN f.payload_hash = l.payload_hash THEN
                CASE
                    WHEN f.event_time IS DISTINCT FROM l.event_time
                        OR f.order_date IS DISTINCT FROM l.order_date
                        OR f.status IS DISTINCT FROM l.status
                        OR f.total_value IS DISTINCT FROM l.total_value
                        OR f.currency_code IS DISTINCT FROM l.currency_code THEN 'differs'
                    ELSE 'ok'
                END
            WHEN NOT l.built AND f.payload_hash = l.built_hash THEN 'awaiting_build'
            ELSE 'stale'
        END AS kind
    FROM fct AS f
    FULL OUTER JOIN latest AS l
        ON l.tenant_id = f.tenant_id
        AND l.order_id = f.order_id
),

numbered AS (
    SELECT
        kind,
        tenant_id,
        order_id,
        count(*) OVER (PARTITION BY kind) AS orders,
        row_number() OVER (PARTITION BY kind ORDER BY tenant_id, order_id) AS example_rank
    FROM findings
)

SELECT kind, orders, tenant_id, order_id
FROM numbered
WHERE example_rank <= 5
ORDER BY kind, example_rank
