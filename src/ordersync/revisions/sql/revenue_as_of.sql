-- Daily revenue per tenant, order date and currency as known at a moment: revenue_daily's
-- definitions (the [orders] settings) over the orders' versions known then
-- (order_versions_as_of.sql, substituted below):
--   canceled: the status is one of the invalid statuses;
--   valid: not canceled, with a total above zero;
--   pending: valid, and the status is one of the pending statuses.
-- The markers in braces are replaced by ordersync.revisions.asof: the versions' query and two
-- bound `status in (?, ...)` predicates.
--
-- Parameters, in order: the invalid statuses, the pending statuses, those of the versions' query,
-- then the first and the last day (NULL for no bound), each twice.
with classified as (
    select
        o.tenant_id,
        o.order_date,
        coalesce(o.currency_code, 'XXX') as currency_code,
        o.total_value,
        coalesce({is_invalid}, false) as canceled,
        coalesce({is_pending}, false) as pending_status
    from ({versions}) as o
),

flagged as (
    select
        c.*,
        (not c.canceled and c.total_value > 0) as valid
    from classified as c
)

select
    f.tenant_id,
    f.order_date,
    f.currency_code,
    count(*) as orders,
    sum(case when f.valid then 1 else 0 end) as valid_orders,
    sum(case when f.valid then f.total_value else 0 end) as revenue,
    sum(case when f.valid and f.pending_status then 1 else 0 end) as pending_orders,
    sum(case when f.valid and f.pending_status then f.total_value else 0 end) as pending_value,
    sum(case when f.canceled then 1 else 0 end) as canceled_orders,
    sum(case when f.canceled then f.total_value else 0 end) as canceled_value
from flagged as f
where (cast(? as date) is null or f.order_date >= ?)
    and (cast(? as date) is null or f.order_date <= ?)
group by f.tenant_id, f.order_date, f.currency_code
order by f.tenant_id, f.order_date, f.currency_code
