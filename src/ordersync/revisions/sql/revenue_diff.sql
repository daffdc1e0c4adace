-- What changed in daily revenue between two moments (low < high), in one ranking of versions.
--
-- Only an order with a version that became known after low (and by high) can be known differently
-- at the two moments ("touched"), and only a day holding a version of such an order can change:
-- touched_days.sql finds those days, given here as two arrays (the planner then knows how many). The
-- figures of those days at either moment come from the orders with a version on one of them, so
-- only their versions are ranked, once: newest first among those known by high (rank 1: the
-- version known at high), the version known at low being the first of them known by low. The
-- ranking carries the columns the figures need (a few orders' versions: no read-back by landing id,
-- which has no index on PostgreSQL, and DuckDB runs this with a build's memory). An order's two
-- versions are paired by aggregating its rows (at most one is known at each moment), not by joining
-- them: PostgreSQL expects a handful of kept rows and would pair them in a nested loop.
--
-- Two kinds of rows come out:
--   'd': a (tenant, day, currency) of the touched days, at one moment (`high`), with its figures
--        as revenue_as_of.sql counts them; no row where the day has no order at that moment;
--   'o': a touched order whose known version differs between the moments (by payload hash), with
--        the version known at low (NULLs when none was) and at high.
--
-- Parameters, in order: the touched days' tenant ids and order dates (two arrays of one length),
-- high, the tenant id twice (the ranking), low (the version known at low), low (touched), then the
-- first and the last day (NULL for no bound), each twice.
-- Markers in braces: {latest_version_first}, as in order_versions_as_of.sql; {known}, when a landed
-- row `k` (its batch `b`) became known; {is_canceled}, {is_valid}, {is_pending}, the models'
-- conditions on `o`, and the day_figures marker, as in revenue_as_of.sql.
with days as materialized (
    select unnest(cast(? as integer[])) as tenant_id, unnest(cast(? as date[])) as order_date
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
        k.order_date,
        k.status,
        k.total_value,
        k.currency_code,
        k.payload_hash,
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
        r.*,
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
        m.order_date,
        m.status,
        m.total_value,
        m.currency_code,
        m.payload_hash
    from marked as m
    where m.version_rank = 1 or m.version_rank = m.low_rank
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
    p.tenant_id,
    null as high,
    max(case when p.at_high then p.order_date end) as order_date,
    null as currency_code,
    null as orders,
    null as valid_orders,
    null as revenue,
    null as pending_orders,
    null as pending_value,
    null as canceled_orders,
    null as canceled_value,
    p.order_id,
    max(case when p.at_low then p.order_date end) as low_order_date,
    max(case when p.at_low then p.status end) as low_status,
    max(case when p.at_low then p.total_value end) as low_total_value,
    max(case when p.at_low then p.currency_code end) as low_currency_code,
    max(case when p.at_low then p.payload_hash end) as low_payload_hash,
    max(case when p.at_high then p.status end) as high_status,
    max(case when p.at_high then p.total_value end) as high_total_value,
    max(case when p.at_high then p.currency_code end) as high_currency_code,
    max(case when p.at_high then p.payload_hash end) as high_payload_hash
from picked as p
where p.touched
group by p.tenant_id, p.order_id
having max(case when p.at_low then p.payload_hash end) is distinct from max(case when p.at_high then p.payload_hash end)
