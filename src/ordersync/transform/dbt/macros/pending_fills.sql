{#
  Columns a migration added to fct_orders after rows were built in it (cdp.pending_fills, one row
  per tenant and fill): the first build after the migration copies them from each row's landed
  version (its landing_id), then removes the tenant's pending row, both in the build's transaction,
  so the rows built before are filled exactly once and never rebuilt (a tenant a build leaves out
  keeps its pending row for the next). Later builds ask one small
  query and render nothing (dbt skips an empty hook). Rendered when the model runs, as
  drop_withdrawn_orders is.

  The one fill so far: customer_identifiers (migration 0012), the columns below.
#}

{% macro fill_pending_columns() -%}
    {{ return("{{ ordersync.fill_pending_columns_sql() }}") }}
{%- endmacro %}

{% macro clear_pending_fills() -%}
    {{ return("{{ ordersync.clear_pending_fills_sql() }}") }}
{%- endmacro %}


{#- True when some tenant's rows still wait for the customer identifiers fill. -#}
{% macro customer_identifiers_pending() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) from {{ source('cdp', 'pending_fills') }} where fill = 'customer_identifiers'
    {%- endset -%}
    {{ return((run_query(query).columns[0].values()[0] | int) > 0) }}
{%- endmacro %}


{% macro fill_pending_columns_sql() -%}
    {%- if not ordersync.customer_identifiers_pending() -%}
        {{ return('') }}
    {%- endif -%}
    update {{ this }} as f
    set customer_document = l.customer_document,
        customer_document_type = l.customer_document_type,
        customer_phone = l.customer_phone
    from {{ source('cdp', 'orders_landing') }} as l
    where l.tenant_id = f.tenant_id
        and l.landing_id = f.landing_id
        and {{ tenant_in_build('f.tenant_id') }}
        and f.tenant_id in (
            select p.tenant_id from {{ source('cdp', 'pending_fills') }} as p where p.fill = 'customer_identifiers'
        )
        and (l.customer_document is not null or l.customer_document_type is not null or l.customer_phone is not null)
{%- endmacro %}


{% macro clear_pending_fills_sql() -%}
    {%- if not ordersync.customer_identifiers_pending() -%}
        {{ return('') }}
    {%- endif -%}
    delete from {{ source('cdp', 'pending_fills') }}
    where fill = 'customer_identifiers' and {{ tenant_in_build('tenant_id') }}
{%- endmacro %}
