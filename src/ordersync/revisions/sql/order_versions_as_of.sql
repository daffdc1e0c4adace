-- The current version of every order as known at a moment: among the landed versions whose batch
-- the ledger had seen committed by then (committed_at <= the moment; a row landed without a batch
-- is known from its processing time), the newest by the models' version order (event_time, then
-- processing time, then payload_hash in byte order). The same answer at any later time, whatever
-- landed since and whatever the writers' clocks said.
--
-- The versions are ranked on the ordering columns alone and the winners' other columns read back
-- by landing id: a window carrying whole rows needs several times the memory (over two million
-- versions DuckDB's default 48 MB pool ran out). PostgreSQL reads order_versions_as_of.postgres.sql.
--
-- Parameters: the moment, the tenant id (NULL for every tenant) twice, those of {orders}, then the
-- tenant id twice again.
-- Markers in braces: {latest_version_first}, the models' version order, rendered from the dbt macro
-- (transform/dbt/macros/order_versions.sql, by ordersync.warehouse.macros) with landing_id as the
-- last tie-break (two landings of the same version);
-- {orders}, empty or `and <condition on k>` restricting the orders ranked (ordersync.revisions.asof).
select l.tenant_id, l.order_id, l.order_date, l.status, l.total_value, l.currency_code, l.payload_hash
from cdp.orders_landing as l
inner join (
    select ranked.tenant_id, ranked.landing_id
    from (
        select
            k.tenant_id,
            k.landing_id,
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
    where ranked.version_rank = 1
) as latest on latest.tenant_id = l.tenant_id and latest.landing_id = l.landing_id
where (cast(? as integer) is null or l.tenant_id = ?)
