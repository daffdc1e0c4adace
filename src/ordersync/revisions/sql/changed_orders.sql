-- The orders whose known version differs between two moments (low < high), with the version known
-- at each. An order can differ only if one of its versions became known after low, and then its
-- version known at high is one of those. One pass over the versions known by high numbers each
-- order's versions newest first (rank 1: the version known at high); the version known at low is
-- the first of them known by low. For the orders with a version known after low it keeps those two
-- (one row when they are the same version) and reads their other columns back by landing id: one
-- sort, carrying only what it orders by (in DuckDB's default 48 MB pool a window per moment over
-- two million versions ran out of memory).
--
-- Parameters, in order: low, high, the tenant id twice, those of {orders}, low, the tenant id twice.
-- Markers in braces: {latest_version_first} and {orders}, as in order_versions_as_of.sql; {known}, when a
-- landed row `k` (its batch `b`) became known.
select
    l.tenant_id,
    l.order_id,
    w.version_rank = 1 as at_high,
    w.version_rank = w.low_rank as at_low,
    l.order_date,
    l.status,
    l.total_value,
    l.currency_code,
    l.payload_hash
from cdp.orders_landing as l
inner join (
    select marked.tenant_id, marked.landing_id, marked.version_rank, marked.low_rank
    from (
        select
            v.tenant_id,
            v.landing_id,
            v.version_rank,
            min(case when v.known_at <= ? then v.version_rank end)
                over (partition by v.tenant_id, v.order_id) as low_rank,
            max(v.known_at) over (partition by v.tenant_id, v.order_id) as last_known
        from (
            select
                k.tenant_id,
                k.order_id,
                k.landing_id,
                {known} as known_at,
                row_number() over (
                    partition by k.tenant_id, k.order_id
                    order by
                        {latest_version_first},
                        k.landing_id desc
                ) as version_rank
            from cdp.orders_landing as k
            left join cdp.landing_batches as b on b.tenant_id = k.tenant_id and b.batch_id = k.batch_id
            where
                {known} <= ?
                and (cast(? as integer) is null or k.tenant_id = ?)
                {orders}
        ) as v
    ) as marked
    where marked.last_known > ? and (marked.version_rank = 1 or marked.version_rank = marked.low_rank)
) as w on w.tenant_id = l.tenant_id and w.landing_id = l.landing_id
where (cast(? as integer) is null or l.tenant_id = ?)
