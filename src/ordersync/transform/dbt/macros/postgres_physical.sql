{#
  PostgreSQL-only physical choices for fct_orders; on other warehouses these render to nothing
  (and dbt skips an empty hook).
#}

{#-
  Serializes concurrent builds on PostgreSQL, where several workers may build at once: the lock is
  taken inside the model's transaction, before its candidates are computed, and released at
  commit, so a second build sees the first one's result. DuckDB has one writer anyway.
-#}
{% macro serialize_build(name) -%}
    {{ return(adapter.dispatch('serialize_build', 'ordersync')(name)) }}
{%- endmacro %}

{% macro default__serialize_build(name) -%}
{%- endmacro %}

{% macro postgres__serialize_build(name) -%}
    select pg_advisory_xact_lock(hashtext('ordersync.build.{{ name }}'))
{%- endmacro %}


{#- One row per order, enforced; also serves the version guard's join and lookups by order. -#}
{% macro order_key_index() -%}
    {{ return(adapter.dispatch('order_key_index', 'ordersync')()) }}
{%- endmacro %}

{% macro default__order_key_index() -%}
{%- endmacro %}

{% macro postgres__order_key_index() -%}
    create unique index if not exists {{ this.identifier }}_order_uq on {{ this }} (tenant_id, order_id)
{%- endmacro %}


{#- Makes the watermark (the newest processing time built) an index lookup, not a table scan. -#}
{% macro processed_at_index() -%}
    {{ return(adapter.dispatch('processed_at_index', 'ordersync')()) }}
{%- endmacro %}

{% macro default__processed_at_index() -%}
{%- endmacro %}

{% macro postgres__processed_at_index() -%}
    create index if not exists {{ this.identifier }}_processed_at_idx on {{ this }} (({{ processed_at() }}))
{%- endmacro %}


{#- On PostgreSQL, the data tests find the latest build's rows by built_at without a scan. -#}
{% macro built_at_index() -%}
    {{ return(adapter.dispatch('built_at_index', 'ordersync')()) }}
{%- endmacro %}

{% macro default__built_at_index() -%}
{%- endmacro %}

{% macro postgres__built_at_index() -%}
    create index if not exists {{ this.identifier }}_built_at_idx on {{ this }} (built_at)
{%- endmacro %}


{#- On PostgreSQL, revenue_daily reads the orders of the days a build changed without a scan. -#}
{% macro order_day_index() -%}
    {{ return(adapter.dispatch('order_day_index', 'ordersync')()) }}
{%- endmacro %}

{% macro default__order_day_index() -%}
{%- endmacro %}

{% macro postgres__order_day_index() -%}
    create index if not exists {{ this.identifier }}_day_idx on {{ this }} (tenant_id, order_date)
{%- endmacro %}


{#- One row per (tenant, day, currency), enforced; also serves delete+insert's delete. -#}
{% macro revenue_key_index() -%}
    {{ return(adapter.dispatch('revenue_key_index', 'ordersync')()) }}
{%- endmacro %}

{% macro default__revenue_key_index() -%}
{%- endmacro %}

{% macro postgres__revenue_key_index() -%}
    create unique index if not exists {{ this.identifier }}_key_uq on {{ this }} (tenant_id, order_date, currency_code)
{%- endmacro %}


{#- On PostgreSQL the lookback's bound is only known when the query runs, so the planner guesses a
    large share of the landing table and compiles the query with JIT: tens of milliseconds that grow
    with the table and buy nothing for the few rows an incremental build reads. -#}
{% macro no_jit() -%}
    {{ return(adapter.dispatch('no_jit', 'ordersync')()) }}
{%- endmacro %}

{% macro default__no_jit() -%}
{%- endmacro %}

{% macro postgres__no_jit() -%}
    set local jit = off
{%- endmacro %}
