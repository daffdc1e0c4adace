-- The current version of every order as known at a moment: among the landed versions whose batch
-- the ledger had seen committed by then (committed_at <= the moment; a row landed without a batch
-- is known from its processing time), the newest by the models' version order (event_time, then
-- processing time, then payload_hash in byte order). The same answer at any later time, whatever
-- landed since and whatever the writers' clocks said.
--
-- Parameters: the moment, then the tenant id (NULL for every tenant) twice.
-- The marker in braces is the dialect's byte-order collation of text (empty on DuckDB).
select tenant_id, order_id, order_date, status, total_value, currency_code, payload_hash
from (
    select
        l.tenant_id,
        l.order_id,
        l.order_date,
        l.status,
        l.total_value,
        l.currency_code,
        l.payload_hash,
        row_number() over (
            partition by l.tenant_id, l.order_id
            order by
                l.event_time desc,
                coalesce(l.event_ingested_at, l.event_time) desc,
                l.payload_hash {byte_order} desc,
                l.landing_id desc
        ) as version_rank
    from cdp.orders_landing as l
    left join cdp.landing_batches as b on b.batch_id = l.batch_id
    where
        case
            when l.batch_id is null then coalesce(l.event_ingested_at, l.event_time)
            else b.committed_at
        end <= ?
        and (cast(? as integer) is null or l.tenant_id = ?)
) as ranked
where version_rank = 1
