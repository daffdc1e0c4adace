{#
  Withdrawn versions (cdp.withdrawals, `ordersync quarantine add`): the models read landed versions
  through stg_orders, which leaves withdrawn ones out. `ordersync build` passes var `withdrawals`,
  the [withdrawal_id, version] of every withdrawal changed (made or released) since a build last
  applied it: fct_orders picks those orders again whatever the version guard says (falling back to
  an older version, or dropping an order none of whose versions stands), and revenue_daily
  recomputes every day their versions were on.
#}

{#- True when the landed version in `alias` is withdrawn (by a standing withdrawal). -#}
{% macro is_withdrawn(alias) -%}
    exists (
        select 1 from {{ source('cdp', 'withdrawals') }} as w
        where w.tenant_id = {{ alias }}.tenant_id
            and w.order_id = {{ alias }}.order_id
            and w.released_at is null
            and (w.payload_hash is null or w.payload_hash = {{ alias }}.payload_hash)
    )
{%- endmacro %}


{#- The ids of the withdrawals this build applies (integers, checked). -#}
{% macro changed_withdrawal_ids() -%}
    {%- set ids = [] -%}
    {%- for w in build_var('withdrawals', []) -%}
        {%- do ids.append(w[0] | int) -%}
    {%- endfor -%}
    {{ return(ids) }}
{%- endmacro %}


{#- True when the order in `alias` (tenant_id, order_id) has a withdrawal this build applies. -#}
{% macro has_changed_withdrawal(alias) -%}
    {%- set ids = changed_withdrawal_ids() -%}
    {%- if ids | length == 0 -%}
        (1 = 0)
    {%- else -%}
        exists (
            select 1 from {{ source('cdp', 'withdrawals') }} as cw
            where cw.withdrawal_id in ({{ ids | join(', ') }})
                and cw.tenant_id = {{ alias }}.tenant_id
                and cw.order_id = {{ alias }}.order_id
        )
    {%- endif -%}
{%- endmacro %}


{#-
  fct_orders' post-hook: the orders whose withdrawals changed and of which no version known to this
  build stands any more leave the table (delete+insert only replaces the orders the model returns).
  Rendered when the model runs (config() is rendered at parse time), as revision_notices() is.
-#}
{% macro drop_withdrawn_orders() -%}
    {{ return("{{ ordersync.drop_withdrawn_orders_sql() }}") }}
{%- endmacro %}

{% macro drop_withdrawn_orders_sql() -%}
    {%- if changed_withdrawal_ids() | length == 0 or not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set ledger_to = build_var('ledger_to', 0) | int -%}
    delete from {{ this }} as f
    where {{ has_changed_withdrawal('f') }}
        and {{ tenant_in_build('f.tenant_id') }}
        and not exists (
            select 1 from {{ ref('stg_orders') }} as s
            where s.tenant_id = f.tenant_id
                and s.order_id = f.order_id
                {% if ledger_to > 0 -%}
                and (s.batch_id is null or s.batch_id in (
                    select batch_id from {{ source('cdp', 'landing_batches') }} where seq <= {{ ledger_to }}
                ))
                {%- endif %}
        )
{%- endmacro %}
