{#
  Daily revenue: per tenant, order date (the tenant's time zone) and currency, from the current
  orders (fct_orders) and the `[orders]` settings (macros/revenue.sql says what valid, pending and
  canceled mean).

  Incremental, by partition: each build recomputes exactly the (tenant, day) partitions whose
  orders changed since the build this table last caught up with, and nothing else:
    - the days of the fct_orders rows written by builds after `fct_built_at` (the newest fct_orders
      build this table has read: a build that stopped between the two models is caught up by the
      next one), and the days those orders were moved off (replaced_order_date);
    - the day ranges of var `restate` (an applied backfill or restatement plan).
  A (tenant, day, currency) that no longer has orders is kept with zeros, so no stale figure
  survives. `previous_revenue` is the figure this build replaced (0 for a new day of a tenant
  already built, null on a tenant's first build), which the revision notices compare.

  Never rebuilt from scratch (full_refresh: false).
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['tenant_id', 'order_date', 'currency_code'],
        full_refresh=false,
        on_schema_change='fail',
        pre_hook=[serialize_build('revenue_daily'), no_jit()],
        post_hook=[revenue_key_index(), revision_notices()],
    )
}}

{#- The newest fct_orders build, and the newest one this table has read, as constants. -#}
{%- set fct_built_at = none -%}
{%- set consumed = none -%}
{%- if execute -%}
    {%- set fct_built_at = run_query("select cast(max(built_at) as text) from " ~ ref('fct_orders')).columns[0].values()[0] -%}
    {%- if is_incremental() -%}
        {%- set consumed = run_query("select cast(max(fct_built_at) as text) from " ~ this).columns[0].values()[0] -%}
    {%- endif -%}
{%- endif -%}
{%- set restate = restate_ranges() -%}

with

{% if is_incremental() %}
changed_orders as (

    select tenant_id, order_id, order_date, replaced_order_date
    from {{ ref('fct_orders') }}
    where {{ tenant_in_build('tenant_id') }}
    {% if consumed is not none %}
        and built_at > {{ since_consumed(consumed) }}
    {% endif %}

),

changed_days_any as (

    select tenant_id, order_date from changed_orders
    union
    select tenant_id, replaced_order_date from changed_orders where replaced_order_date is not null
    {% for tenant_id, day_from, day_to in restate %}
    union
    select tenant_id, order_date from {{ ref('fct_orders') }}
    where tenant_id = {{ tenant_id }}
        and order_date between cast('{{ day_from }}' as date) and cast('{{ day_to }}' as date)
    union
    select tenant_id, order_date from {{ this }}
    where tenant_id = {{ tenant_id }}
        and order_date between cast('{{ day_from }}' as date) and cast('{{ day_to }}' as date)
    {% endfor %}
    {% if changed_withdrawal_ids() | length > 0 %}
    union
    -- every day the versions of an order whose withdrawals changed were on (it may have left them)
    select l.tenant_id, l.order_date from {{ source('cdp', 'orders_landing') }} as l
    where {{ has_changed_withdrawal('l') }}
    {% endif %}

),

changed_days as (

    select tenant_id, order_date from changed_days_any where {{ tenant_in_build('tenant_id') }}

),

day_changes as (

    select d.tenant_id, d.order_date, count(c.order_id) as orders_changed
    from changed_days as d
    left join changed_orders as c
        on c.tenant_id = d.tenant_id
        and (c.order_date = d.order_date or c.replaced_order_date = d.order_date)
    group by d.tenant_id, d.order_date

),

built_tenants as (

    -- the changed days' tenants this table already holds figures of: a join, not a correlated
    -- subquery on this table, which a warehouse sharded by tenant cannot always plan (docs/scaling.md)
    select distinct r.tenant_id
    from {{ this }} as r
    inner join (select distinct tenant_id from changed_days) as d
        on d.tenant_id = r.tenant_id

),
{% endif %}

orders as (

    select o.*
    from {{ ref('fct_orders') }} as o
    {% if is_incremental() %}
    inner join changed_days as d
        on d.tenant_id = o.tenant_id
        and d.order_date = o.order_date
    {% else %}
    where {{ tenant_in_build('o.tenant_id') }}
    {% endif %}

),

rollup as (

    select
        o.tenant_id,
        o.order_date,
        {{ revenue_currency('o') }} as currency_code,
        count(*) as orders,
        sum(case when {{ is_valid('o') }} then 1 else 0 end) as valid_orders,
        sum(case when {{ is_valid('o') }} then o.total_value else 0 end) as revenue,
        sum(case when {{ is_pending('o') }} then 1 else 0 end) as pending_orders,
        sum(case when {{ is_pending('o') }} then o.total_value else 0 end) as pending_value,
        sum(case when {{ is_canceled('o') }} then 1 else 0 end) as canceled_orders,
        sum(case when {{ is_canceled('o') }} then o.total_value else 0 end) as canceled_value
    from orders as o
    group by o.tenant_id, o.order_date, {{ revenue_currency('o') }}

),

keys as (

    select tenant_id, order_date, currency_code from rollup
    {% if is_incremental() %}
    union
    -- figures built before for a changed day: kept, with zeros, when its orders are all gone
    select r.tenant_id, r.order_date, r.currency_code
    from {{ this }} as r
    inner join changed_days as d
        on d.tenant_id = r.tenant_id
        and d.order_date = r.order_date
    {% endif %}

)

select
    k.tenant_id,
    k.order_date,
    k.currency_code,
    cast(coalesce(x.orders, 0) as bigint) as orders,
    cast(coalesce(x.valid_orders, 0) as bigint) as valid_orders,
    cast(coalesce(x.revenue, 0) as {{ money_sum_type() }}) as revenue,
    cast(coalesce(x.pending_orders, 0) as bigint) as pending_orders,
    cast(coalesce(x.pending_value, 0) as {{ money_sum_type() }}) as pending_value,
    cast(coalesce(x.canceled_orders, 0) as bigint) as canceled_orders,
    cast(coalesce(x.canceled_value, 0) as {{ money_sum_type() }}) as canceled_value,
    cast(
        case when coalesce(x.valid_orders, 0) > 0 then {{ average_money('x.revenue', 'x.valid_orders') }} end
        as {{ money_sum_type() }}
    ) as average_order_value,
    {% if is_incremental() -%}
    cast(
        case
            when p.revenue is not null then p.revenue
            when bt.tenant_id is not null then 0
        end as {{ money_sum_type() }}
    ) as previous_revenue,
    cast(coalesce(c.orders_changed, 0) as bigint) as orders_changed,
    {%- else -%}
    cast(null as {{ money_sum_type() }}) as previous_revenue,
    cast(coalesce(x.orders, 0) as bigint) as orders_changed,
    {%- endif %}
    cast('{{ build_var("built_at", run_started_at) }}' as timestamptz) as built_at,
    cast({% if fct_built_at is none %}null{% else %}'{{ fct_built_at }}'{% endif %} as timestamptz) as fct_built_at
from keys as k
left join rollup as x
    on x.tenant_id = k.tenant_id
    and x.order_date = k.order_date
    and x.currency_code = k.currency_code
{% if is_incremental() %}
left join {{ this }} as p
    on p.tenant_id = k.tenant_id
    and p.order_date = k.order_date
    and p.currency_code = k.currency_code
left join day_changes as c
    on c.tenant_id = k.tenant_id
    and c.order_date = k.order_date
left join built_tenants as bt
    on bt.tenant_id = k.tenant_id
{% endif %}
