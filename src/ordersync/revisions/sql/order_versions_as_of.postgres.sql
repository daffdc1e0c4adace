-- order_versions_as_of.sql for PostgreSQL: the same answer and parameters, ranking whole rows. Its
-- sorts spill to disk whatever their width, and reading the winners back by landing id (a second
-- scan of the landing table, which has no index on it) made the two-year answer up to twice as slow.
select tenant_id, order_id, order_date, status, total_value, currency_code, payload_hash
from (
    select
        k.tenant_id,
        k.order_id,
        k.order_date,
        k.status,
        k.total_value,
        k.currency_code,
        k.payload_hash,
        row_number() over (
            partition by k.tenant_id, k.order_id
            order by
                {latest_version_first},
                k.landing_id desc
        ) as version_rank
    from cdp.orders_landing as k
    left join cdp.landing_batches as b on b.tenant_id = k.tenant_id and b.batch_id = k.batch_id
    where
        case
            when k.batch_id is null then coalesce(k.event_ingested_at, k.event_time)
            else b.committed_at
        end <= ?
        and (cast(? as integer) is null or k.tenant_id = ?)
        {orders}
) as ranked
where version_rank = 1 and (cast(? as integer) is null or tenant_id = ?)
