{#
  What counts as revenue, from the `[orders]` settings `ordersync build` passes as vars (the same
  settings `ordersync revenue --as-of` and the customer analytics read), and the day ranges an
  applied plan asks a build to re-merge or recompute.

    - valid: the current status is not one of `invalid_statuses`, and the total is above zero;
    - pending: a valid order whose status is one of `pending_statuses` (or has no status, when
      `pending_when_no_status`): booked, not yet paid;
    - canceled: the status is one of `invalid_statuses`.

  The one statement of this rule: the as-of queries render these macros (revisions/asof.py), the
  Python twin revisions/effects.py `classify` is pinned to them by a property test, and verify's
  audit restates them on purpose as an independent oracle. The defaults are dbt_project.yml's vars.
#}

{#- A SQL string literal of `value` (settings are text; quotes are doubled, never spliced raw). -#}
{% macro sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- `expr in (...)` over a list of texts; false for an empty list. -#}
{% macro in_texts(expr, values) -%}
    {%- if values | length == 0 -%}
        (1 = 0)
    {%- else -%}
        ({{ expr }} in ({% for v in values %}{{ sql_text(v) }}{% if not loop.last %}, {% endif %}{% endfor %}))
    {%- endif -%}
{%- endmacro %}


{% macro is_canceled(alias) -%}
    {{ in_texts(alias ~ '.status', build_var('invalid_statuses')) }}
{%- endmacro %}


{% macro is_valid(alias) -%}
    (({{ alias }}.status is null or not {{ is_canceled(alias) }}) and {{ alias }}.total_value > 0)
{%- endmacro %}


{% macro is_pending(alias) -%}
    {%- set pending = build_var('pending_statuses') -%}
    {%- set no_status = build_var('pending_when_no_status') -%}
    ({{ is_valid(alias) }} and ({{ in_texts(alias ~ '.status', pending) }}{% if no_status %} or {{ alias }}.status is null{% endif %}))
{%- endmacro %}


{#- The currency a revenue row is kept under: ISO 4217's XXX ("no currency") for an order without one. -#}
{% macro revenue_currency(alias) -%}
    coalesce({{ alias }}.currency_code, 'XXX')
{%- endmacro %}


{#- [tenant_id, first day, last day] ranges of var `name`, checked: ids are integers, days ISO dates. -#}
{% macro day_ranges(name) -%}
    {%- set out = [] -%}
    {%- for r in build_var(name, []) -%}
        {%- set tenant_id = r[0] | int -%}
        {%- set day_from = modules.datetime.date.fromisoformat(r[1] | string).isoformat() -%}
        {%- set day_to = modules.datetime.date.fromisoformat(r[2] | string).isoformat() -%}
        {%- do out.append([tenant_id, day_from, day_to]) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{#- Days fct_orders re-reads whatever the lookback (an applied backfill plan's days). -#}
{% macro remerge_ranges() -%}
    {{ return(day_ranges('remerge')) }}
{%- endmacro %}


{#- Days revenue_daily recomputes besides those whose orders changed (plans: backfills, restatements). -#}
{% macro restate_ranges() -%}
    {{ return(day_ranges('restate')) }}
{%- endmacro %}


{#-
  The revision notices of this build, written into the outbox (cdp.revision_notices) inside the
  revenue_daily model's transaction: one per (tenant, closed day, currency) whose revenue this
  build moved by at least `min_delta_abs` and `min_delta_pct`. A day is closed when it is on or
  before var `closed_through`. The id is a hash of the key and the build, so it is the same
  whenever it is read again.

  The model's config() calls this, and dbt renders config() once, at parse time, where
  is_incremental() is false: so it returns a hook that dbt renders when the model runs.
-#}
{% macro revision_notices() -%}
    {{ return("{{ ordersync.revision_notices_sql() }}") }}
{%- endmacro %}


{% macro revision_notices_sql() -%}
    {%- set closed_through = build_var('closed_through', none) -%}
    {%- if closed_through is none or not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set closed_through = modules.datetime.date.fromisoformat(closed_through | string).isoformat() -%}
    {%- set min_abs = build_var('min_delta_abs', 0.01) | float -%}
    {%- set min_pct = build_var('min_delta_pct', 0) | float -%}
    {%- set known_before = build_var('known_before', none) -%}
    {%- set known_after = build_var('known_after', none) -%}
    insert into {{ source('cdp', 'revision_notices') }} (
        notice_id, tenant_id, order_date, currency_code, revenue_before, revenue_after, delta,
        orders_changed, known_before, known_after, revised_at
    )
    select
        md5({{ dbt.concat([
            "cast(r.tenant_id as text)", "':'", "cast(r.order_date as text)", "':'", "r.currency_code",
            "':'", "cast(r.built_at as text)"
        ]) }}),
        r.tenant_id,
        r.order_date,
        r.currency_code,
        r.previous_revenue,
        r.revenue,
        r.revenue - r.previous_revenue,
        r.orders_changed,
        {% if known_before %}cast({{ sql_text(known_before) }} as timestamptz){% else %}null{% endif %},
        {% if known_after %}cast({{ sql_text(known_after) }} as timestamptz){% else %}null{% endif %},
        r.built_at
    from {{ this }} as r
    where r.built_at = cast('{{ build_var("built_at", run_started_at) }}' as timestamptz)
        and r.previous_revenue is not null
        and r.order_date <= cast('{{ closed_through }}' as date)
        and abs(r.revenue - r.previous_revenue) >= {{ min_abs }}
        and abs(r.revenue - r.previous_revenue) > 0
        and abs(r.revenue - r.previous_revenue) * 100 >= {{ min_pct }} * abs(r.previous_revenue)
    on conflict (notice_id, tenant_id) do nothing
{%- endmacro %}
