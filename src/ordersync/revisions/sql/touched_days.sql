-- The days a diff between two moments (low < high) can change: the (tenant, order date) of every
-- version of each order with a version that became known after low and by high. Rows of a batch are
-- found through the batches sealed in between (the ledger's index), rows landed without one by
-- their processing time (its index).
--
-- Parameters, in order: low, high, the tenant id twice (batches), low, high, the tenant id twice
-- (rows landed without a batch).
select distinct d.tenant_id, d.order_date
from cdp.orders_landing as d
where exists (
    select 1
    from (
        select t.tenant_id, t.order_id
        from cdp.landing_batches as tb
        inner join cdp.orders_landing as t on t.tenant_id = tb.tenant_id and t.batch_id = tb.batch_id
        where tb.committed_at > ? and tb.committed_at <= ? and (cast(? as integer) is null or t.tenant_id = ?)
        union all
        select t.tenant_id, t.order_id
        from cdp.orders_landing as t
        where
            t.batch_id is null
            and coalesce(t.event_ingested_at, t.event_time) > ?
            and coalesce(t.event_ingested_at, t.event_time) <= ?
            and (cast(? as integer) is null or t.tenant_id = ?)
    ) as c
    where c.tenant_id = d.tenant_id and c.order_id = d.order_id
)
order by 1, 2
