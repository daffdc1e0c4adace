-- ordersync verify: does revenue_daily equal a recomputation from fct_orders? A full audit scan
-- per (tenant, order date, currency), with the [orders] settings the builds use (the definitions
-- are transform/dbt/macros/revenue.sql's):
--   valid     the status is null or not one of invalid_statuses, and total_value is above zero
--   pending   a valid order whose status is one of pending_statuses (or null, when
--             pending_when_no_status)
--   canceled  the status is one of invalid_statuses
--   currency  currency_code, XXX for an order without one
--
-- A deliberate oracle: this file restates the models' valid/pending/canceled rule in its own SQL on
-- purpose (not rendered from the dbt macros), so a mistake in the models shows here as a finding
-- instead of being shared by the check. Change it only when the rule itself changes.
--
-- {invalid_statuses} and {pending_statuses} stand for one bound parameter per status (NULL for an
-- empty list: `status IN (NULL)` is never true, and coalesce makes it false).
--
-- One row per finding: kind, count of the kind, and up to 5 examples per kind with both figures:
--   ok        revenue_daily holds what fct_orders gives (a day left with zeros after its orders
--             moved off is ok too)
--   missing   fct_orders has orders for a (tenant, day, currency) that revenue_daily lacks
--   extra     revenue_daily has non-zero figures for one without orders in fct_orders
--   differs   some figure differs
--
-- Parameters, in order: tenant_id (NULL: every tenant), pending_when_no_status, the invalid
-- statuses, the pending statuses.
WITH params AS (
    SELECT
        CAST(? AS INTEGER) AS tenant_id,
        CAST(? AS BOOLEAN) AS pending_when_no_status
),

classified AS (
    SELECT
        o.tenant_id,
        o.order_date,
        coalesce(o.currency_code, 'XXX') AS currency_code,
        o.total_value,
        o.status IS NULL AS no_status,
        coalesce(o.status IN ({invalid_statuses}), FALSE) AS canceled,
        coalesce(o.status IN ({pending_statuses}), FALSE) AS pending_status,
        p.pending_when_no_status
    FROM cdp.fct_orders AS o
    CROSS JOIN params AS p
    WHERE p.tenant_id IS NULL OR o.tenant_id = p.tenant_id
),

judged AS (
    SELECT
        tenant_id,
        order_date,
        currency_code,
        total_value,
        canceled,
        (no_status OR NOT canceled) AND total_value > 0 AS valid,
        (no_status OR NOT canceled) AND total_value > 0
        AND (pending_status OR (no_status AND pending_when_no_status)) AS pending
    FROM classified
),

sums AS (
    SELECT
        tenant_id,
        order_date,
        currency_code,
        count(*) AS orders,
        sum(CASE WHEN valid THEN 1 ELSE 0 END) AS valid_orders,
        sum(CASE WHEN valid THEN total_value ELSE 0 END) AS revenue,
        sum(CASE WHEN pending THEN 1 ELSE 0 END) AS pending_orders,
        sum(CASE WHEN pending THEN total_value ELSE 0 END) AS pending_value,
        sum(CASE WHEN canceled THEN 1 ELSE 0 END) AS canceled_orders,
        sum(CASE WHEN canceled THEN total_value ELSE 0 END) AS canceled_value
    FROM judged
    GROUP BY tenant_id, order_date, currency_code
),

recomputed AS (
    -- the same casts as the model, so the average rounds the same way
    SELECT
        tenant_id,
        order_date,
        currency_code,
        CAST(orders AS BIGINT) AS orders,
        CAST(valid_orders AS BIGINT) AS valid_orders,
        CAST(revenue AS NUMERIC(38, 2)) AS revenue,
        CAST(pending_orders AS BIGINT) AS pending_orders,
        CAST(pending_value AS NUMERIC(38, 2)) AS pending_value,
        CAST(canceled_orders AS BIGINT) AS canceled_orders,
        CAST(canceled_value AS NUMERIC(38, 2)) AS canceled_value,
        -- the average to the cent, half up, by integer division as the model's average_money macro
        CAST(CASE WHEN valid_orders > 0 THEN CAST({average_cents} AS NUMERIC(38, 0)) * 0.01 END AS NUMERIC(38, 2))
            AS average_order_value
    FROM sums
),

built AS (
    SELECT r.*
    FROM cdp.revenue_daily AS r
    CROSS JOIN params AS p
    WHERE p.tenant_id IS NULL OR r.tenant_id = p.tenant_id
),

findings AS (
    SELECT
        coalesce(b.tenant_id, x.tenant_id) AS tenant_id,
        coalesce(b.order_date, x.order_date) AS order_date,
        coalesce(b.currency_code, x.currency_code) AS currency_code,
        CASE
            WHEN b.tenant_id IS NULL THEN 'missing'
            WHEN x.tenant_id IS NULL THEN
                CASE
                    WHEN b.orders = 0 AND b.valid_orders = 0 AND b.revenue = 0 AND b.pending_orders = 0
                        AND b.pending_value = 0 AND b.canceled_orders = 0 AND b.canceled_value = 0
                        AND b.average_order_value IS NULL THEN 'ok'
                    ELSE 'extra'
                END
            WHEN b.orders IS DISTINCT FROM x.orders
                OR b.valid_orders IS DISTINCT FROM x.valid_orders
                OR b.revenue IS DISTINCT FROM x.revenue
                OR b.pending_orders IS DISTINCT FROM x.pending_orders
                OR b.pending_value IS DISTINCT FROM x.pending_value
                OR b.canceled_orders IS DISTINCT FROM x.canceled_orders
                OR b.canceled_value IS DISTINCT FROM x.canceled_value
                OR b.average_order_value IS DISTINCT FROM x.average_order_value THEN 'differs'
            ELSE 'ok'
        END AS kind,
        b.orders AS built_orders,
        b.revenue AS built_revenue,
        x.orders AS recomputed_orders,
        x.revenue AS recomputed_revenue
    FROM recomputed AS x
    FULL OUTER JOIN built AS b
        ON b.tenant_id = x.tenant_id
        AND b.order_date = x.order_date
        AND b.currency_code = x.currency_code
),

numbered AS (
    SELECT
        findings.*,
        count(*) OVER (PARTITION BY kind) AS days,
        row_number() OVER (PARTITION BY kind ORDER BY tenant_id, order_date, currency_code) AS example_rank
    FROM findings
)

SELECT
    kind,
    days,
    tenant_id,
    order_date,
    currency_code,
    built_orders,
    built_revenue,
    recomputed_orders,
    recomputed_revenue
FROM numbered
WHERE example_rank <= 5
ORDER BY kind, example_rank
