{#
  Current orders: one row per (tenant_id, order_id), the newest version among everything landed
  (see macros/order_versions.sql for what "newest" means).

  Incremental. Each build reads two sets of landed versions, picks the newest per order, and keeps
  it only if it is strictly newer than the row already here (the version guard; without it a stale
  version landing late would overwrite a newer one that landed before the window):

    - the lookback window: versions whose processing time is within `lookback_days` of the newest
      one already here;
    - the ledger range: every version of the landing batches numbered (ledger_from, ledger_to] by
      the landing ledger (cdp.landing_batches), whatever its processing time (and, for a tenant
      earlier builds left out, from where they left it out: macros/tenants.sql). Batches are numbered
      only once committed, and `ordersync build` passes the range from the last one a successful
      build consumed to the last one sealed, so no committed version is ever skipped: not one
      committed after a newer-stamped one, not one stamped by a clock running ahead, not with a
      lookback of 0.
    - the re-merge days: every version of the (tenant, order date) ranges in var `remerge` (a list
      of [tenant_id, first day, last day]), which an applied backfill or restatement plan asks for
      (cdp.pending_restatements), through the same version guard.
    - the orders whose withdrawals changed (var `withdrawals`, macros/withdrawals.sql): every
      version still standing, and the newest replaces the row even when older than it; an order
      with none left is deleted by the post-hook.

  With a ledger range, only versions of batches sealed up to `ledger_to` (and rows landed without
  a batch) are read: the table is then exactly what was known as of that point of the ledger.

  `replaced_order_date` is the day a row's order was on before this build moved it to another one
  (its creation date changed, or the tenant's time zone did), so revenue_daily recomputes both.

  The customer's document, its type and phone are the landed version's (read as it landed, raw).
  Columns a migration adds to this table reach the rows built before it through cdp.pending_fills
  (the fill_pending_columns hook), never through a rebuild.

  Never rebuilt from scratch (full_refresh: false): `--full-refresh` leaves this table as it is.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['tenant_id', 'order_id'],
        full_refresh=false,
        on_schema_change='fail',
        pre_hook=[serialize_build('fct_orders'), no_jit()],
        post_hook=[drop_withdrawn_orders(), fill_pending_columns(), clear_pending_fills(), order_key_index(), processed_at_index(), built_at_index(), order_day_index()],
    )
}}

{%- set lookback_seconds = (build_var('lookback_days', var('lookback_days')) | float * 86400) | round(0, 'ceil') | int %}

{#- The lookback's lower bound, measured back from the newest processing time already built, fetched
    before the model runs and written into it as a constant: PostgreSQL then estimates the few rows
    it selects (a subquery there would make it plan for a third of the landing table, and join every
    row of fct_orders by hash). Rounded down to the second, so it can only read a little more. -#}
{%- set since = 0 -%}
{%- if is_incremental() and execute -%}
    {%- set newest_query -%}
        select cast(floor(extract(epoch from max({{ processed_at() }}))) as bigint) from {{ this }}
    {%- endset -%}
    {%- set newest = run_query(newest_query).columns[0].values()[0] -%}
    {%- set since = 0 if newest is none else (newest | int) - lookback_seconds -%}
{%- endif %}

{#- The batch ids of the ledger range, also fetched as constants: on DuckDB they let the scan skip
    every row group outside them, on PostgreSQL they make the range an index scan. None when the
    range holds no batch. -#}
{%- set ledger_from = build_var('ledger_from', 0) | int -%}
{%- set ledger_to = build_var('ledger_to', 0) | int -%}
{%- set batch_low = none -%}
{%- set batch_high = none -%}
{%- set held = build_var('held_ledger', []) | length > 0 -%}
{%- if is_incremental() and execute and (ledger_to > ledger_from or held) -%}
    {%- set batches_query -%}
        select min(batch_id), max(batch_id) from {{ source('cdp', 'landing_batches') }} as b
        where {{ ledger_range('b', ledger_from, ledger_to) }}
    {%- endset -%}
    {%- set bounds = run_query(batches_query).rows[0] -%}
    {%- if bounds[0] is not none -%}
        {%- set batch_low = bounds[0] | int -%}
        {%- set batch_high = bounds[1] | int -%}
    {%- endif -%}
{%- endif %}

with landed as (

    select *
    from {{ ref('stg_orders') }}
    {% if is_incremental() %}
    -- the lookback window (everything while the table is still empty)
    where {{ processed_at() }} >= to_timestamp({{ since }})
    {% if batch_low is not none %}

    union all

    -- the ledger range: what committed since the last build, however old its processing time (the
    -- rows the window above already read are left out, so each landed row appears once)
    select *
    from {{ ref('stg_orders') }}
    where {{ processed_at() }} < to_timestamp({{ since }})
        and batch_id between {{ batch_low }} and {{ batch_high }}
        and batch_id in (
            select batch_id from {{ source('cdp', 'landing_batches') }} as b
            where {{ ledger_range('b', ledger_from, ledger_to) }}
        )
    {% endif %}
    {% for tenant_id, day_from, day_to in remerge_ranges() %}

    union all

    -- re-merge days of an applied plan
    select *
    from {{ ref('stg_orders') }}
    where tenant_id = {{ tenant_id }}
        and order_date between cast('{{ day_from }}' as date) and cast('{{ day_to }}' as date)
    {% endfor %}
    {% if changed_withdrawal_ids() | length > 0 %}

    union all

    -- every standing version of the orders whose withdrawals changed: they are picked again
    select *
    from {{ ref('stg_orders') }} as s
    where {{ has_changed_withdrawal('s') }}
    {% endif %}
    {% endif %}

),

known as (

    -- Only what the ledger had sealed when this build began (its seq up to ledger_to), and rows
    -- landed without a batch: a batch committing while the build runs is left to the next build's
    -- ledger range, so the table is exactly the versions known as of the ledger's ledger_to, the
    -- instant `ordersync revenue` reports and `--as-of` reproduces.
    select * from landed
    where {{ tenant_in_build('tenant_id') }}
    {% if ledger_to > 0 %}
        and (
            batch_id is null
            or batch_id in (select batch_id from {{ source('cdp', 'landing_batches') }} where seq <= {{ ledger_to }})
        )
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by tenant_id, order_id
            -- landing_id only separates copies of one version (same payload_hash)
            order by {{ latest_version_first() }}, landing_id desc
        ) as version_rank
    from known

),

latest as (

    select
        tenant_id,
        order_id,
        event_time,
        event_ingested_at,
        order_date,
        creation_date,
        status,
        total_value,
        currency_code,
        sales_channel,
        customer_id,
        customer_email,
        customer_name,
        payload_hash,
        landing_id,
        customer_document,
        customer_document_type,
        customer_phone,
        {{ dbt.concat(["cast(tenant_id as text)", "':'", "order_id"]) }} as order_key,
        -- which build wrote the row: the data tests check the rows of the latest build, so their
        -- cost follows what changed, not the size of the table
        cast('{{ build_var("built_at", run_started_at) }}' as timestamptz) as built_at
    from ranked
    where version_rank = 1

)

select
    latest.*,
    {% if is_incremental() -%}
    case when current_version.order_date <> latest.order_date then current_version.order_date end
    {%- else -%}
    cast(null as date)
    {%- endif %} as replaced_order_date
from latest
{% if is_incremental() %}
-- the version guard: a candidate replaces the row already built only if it is strictly newer;
-- delete+insert leaves every order missing from this result as it is
left join {{ this }} as current_version
    on current_version.tenant_id = latest.tenant_id
    and current_version.order_id = latest.order_id
where current_version.order_id is null
    or {{ is_newer_version('latest', 'current_version') }}
    -- a withdrawal changed: the newest standing version replaces the row, even an older one
    or {{ has_changed_withdrawal('latest') }}
{% endif %}
