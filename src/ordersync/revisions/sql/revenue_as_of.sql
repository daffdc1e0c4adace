-- Daily revenue per tenant, order date and currency as known at a moment: revenue_daily's
-- definitions (the [orders] settings) over the orders' versions known then
-- (order_versions_as_of.sql, substituted below).
-- The markers in braces are replaced by ordersync.revisions.asof: the versions' query, and the
-- models' own valid / pending / canceled conditions on `o`, rendered from the dbt macros
-- (transform/dbt/macros/revenue.sql, by ordersync.warehouse.macros) with the statuses as literals,
-- and the day_figures marker, a day's figures from those flags on `f` (ordersync.revisions.asof).
--
-- Parameters, in order: those of the versions' query, then the first and the last day (NULL for
-- no bound), each twice.
with flagged as (
    select
        o.tenant_id,
        o.order_date,
        coalesce(o.currency_code, 'XXX') as currency_code,
        o.total_value,
        coalesce({is_canceled}, false) as canceled,
        coalesce({is_valid}, false) as valid,
        coalesce({is_pending}, false) as pending
    from ({versions}) as o
)

select
    f.tenant_id,
    f.order_date,
    f.currency_code,
    {day_figures}
from flagged as f
where (cast(? as date) is null or f.order_date >= ?)
    and (cast(? as date) is null or f.order_date <= ?)
group by f.tenant_id, f.order_date, f.currency_code
order by f.tenant_id, f.order_date, f.currency_code
