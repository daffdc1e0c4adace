-- What changed in daily revenue between two moments (low < high), in one ranking of versions.
--
-- Only an order with a version that became known after low (and by high) can be known differently
-- at the two moments ("touched"), and only a day holding a version of such an order can change.
-- The figures of those days at either moment come from the orders with a version on one of them,
-- so only their versions are ranked, once: newest first among those known by high (rank 1: the
-- version known at high), the version known at low being the first of them known by low. Each
-- kept version is read back by landing id with the columns the revenue rule needs.
--
-- Two kinds of rows come out:
--   'd': a (tenant, day, currency) of the touched days, at one moment (`high`), with its figures
--        as revenue_as_of.sql counts them; no row where the day has no order at that moment;
--   'o': a touched order whose known version differs between the moments (by payload hash), with
--        the version known at low (NULLs when none was) and at high.
--
-- Parameters, in order: low, high, the tenant id twice (batches sealed in between), low, high, the
-- tenant id twice (rows landed without a batch), high, the tenant id twice (the ranking), low (the
-- version known at low), low (touched), the tenant id twice (the read-back), then the first and the
-- last day (NULL for no bound), each twice.
-- Markers in braces: {latest_version_first}, as in order_versions_as_of.sql; {known}, when a landed
-- row `k` (its batch `b`) became known; {is_canceled}, {is_valid}, {is_pending}, the models'
-- conditions on `o`, and the day_figures marker, as in revenue_as_of.sql.
with touched as (
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
),

days as materialized (
    select distinct d.tenant_id, d.order_date
    from cdp.orders_landing as d
    where exists (select 1 from touched as c where c.tenant_id = d.tenant_id and c.order_id = d.order_id)
),

scoped as (
    select distinct s.tenant_id, s.order_id
    from cdp.orders_landing as s
    inner join days on days.tenant_id = s.tenant_id and days.order_date = s.order_date
),

ranked as (
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
    inner join scoped as s on s.tenant_id = k.tenant_id and s.order_id = k.order_id
    left join cdp.landing_batches as b on b.tenant_id = k.tenant_id and b.batch_id = k.batch_id
    where {known} <= ? and (cast(? as integer) is null or k.tenant_id = ?)
),

marked as (
    select
        r.tenant_id,
        r.order_id,
        r.landing_id,
        r.version_rank,
        min(case when r.known_at <= ? then r.version_rank end)
            over (partition by r.tenant_id, r.order_id) as low_rank,
        max(r.known_at) over (partition by r.tenant_id, r.order_id) as last_known
    from ranked as r
),

picked as materialized (
    select
        m.tenant_id,
        m.order_id,
        m.version_rank = 1 as at_high,
        coalesce(m.version_rank = m.low_rank, false) as at_low,
        m.last_known > ? as touched,
        l.order_date,
        l.status,
        l.total_value,
        l.currency_code,
        l.payload_hash
    from marked as m
    inner join cdp.orders_landing as l on l.tenant_id = m.tenant_id and l.landing_id = m.landing_id
    where (m.version_rank = 1 or m.version_rank = m.low_rank) and (cast(? as integer) is null or l.tenant_id = ?)
),

flagged as (
    select
        o.tenant_id,
        o.order_date,
        coalesce(o.currency_code, 'XXX') as currency_code,
        o.at_low,
        o.at_high,
        o.total_value,
        coalesce({is_canceled}, false) as canceled,
        coalesce({is_valid}, false) as valid,
        coalesce({is_pending}, false) as pending
    from picked as o
    inner join days on days.tenant_id = o.tenant_id and days.order_date = o.order_date
    where
        (cast(? as date) is null or o.order_date >= ?)
        and (cast(? as date) is null or o.order_date <= ?)
)

select
    'd' as kind,
    f.tenant_id,
    moment.high,
    f.order_date,
    f.currency_code,
    {day_figures},
    null as order_id,
    null as low_order_date,
    null as low_status,
    null as low_total_value,
    null as low_currency_code,
    null as low_payload_hash,
    null as high_status,
    null as high_total_value,
    null as high_currency_code,
    null as high_payload_hash
from flagged as f
inner join (values (false), (true)) as moment (high) on (case when moment.high then f.at_high else f.at_low end)
group by f.tenant_id, moment.high, f.order_date, f.currency_code

union all

select
    'o' as kind,
    h.tenant_id,
    null as high,
    h.order_date,
    null as currency_code,
    null as orders,
    null as valid_orders,
    null as revenue,
    null as pending_orders,
    null as pending_value,
    null as canceled_orders,
    null as canceled_value,
    h.order_id,
    lo.order_date as low_order_date,
    lo.status as low_status,
    lo.total_value as low_total_value,
    lo.currency_code as low_currency_code,
    lo.payload_hash as low_payload_hash,
    h.status as high_status,
    h.total_value as high_total_value,
    h.currency_code as high_currency_code,
    h.payload_hash as high_payload_hash
from picked as h
left join picked as lo on lo.tenant_id = h.tenant_id and lo.order_id = h.order_id and lo.at_low
where h.at_high and h.touched and lo.payload_hash is distinct from h.payload_hash
