{#
  Which tenants this build builds. `ordersync build` passes var `tenants` only when a build failed
  and it is finding the tenants whose data fails it (transform/isolation.py): {"only": [ids]} builds
  those tenants, {"except": [ids]} every tenant but those; without it every tenant builds. Every
  model that reads tenant data filters with `tenant_in_build`, and so should a model of one's own
  that can fail on a tenant's data, so that one tenant's bad data never stops the others' build.

  Var `held_ledger`, [[tenant_id, seq], ...]: tenants earlier builds left out, whose landing batches
  fct_orders reads again from `seq` (not from ledger_from) once they build.
#}

{#- True for the rows of tenants this build builds (`expr` is their tenant_id). -#}
{% macro tenant_in_build(expr) -%}
    {%- set given = ordersync.build_var('tenants', none) -%}
    {%- if given is none -%}
        (1 = 1)
    {%- elif 'only' in given -%}
        {%- set ids = given['only'] | map('int') | list -%}
        {%- if ids | length == 0 -%}(1 = 0){%- else -%}({{ expr }} in ({{ ids | join(', ') }})){%- endif -%}
    {%- else -%}
        {%- set ids = given['except'] | map('int') | list -%}
        {%- if ids | length == 0 -%}(1 = 1){%- else -%}({{ expr }} not in ({{ ids | join(', ') }})){%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The landing batches of the ledger range: seq in (ledger_from, ledger_to], and for each held
    tenant its batches from where it was left out. `b` is the alias of cdp.landing_batches. -#}
{% macro ledger_range(b, ledger_from, ledger_to) -%}
    ({{ b }}.seq <= {{ ledger_to }} and ({{ b }}.seq > {{ ledger_from }}
    {%- for tenant_id, since in build_var('held_ledger', []) %}
        or ({{ b }}.tenant_id = {{ tenant_id | int }} and {{ b }}.seq > {{ since | int }})
    {%- endfor -%}
    ))
{%- endmacro %}

{#- revenue_daily reads the fct_orders rows written after `consumed`, or after var `revenue_since` when earlier: a build
    that left tenants out passes where this table stood before it, so the rows those tenants (or the
    attempts that found them) wrote are read again once they build. -#}
{% macro since_consumed(consumed) -%}
    {%- set since = build_var('revenue_since', none) -%}
    {%- if since is none -%}
        cast('{{ consumed }}' as timestamptz)
    {%- else -%}
        least(cast('{{ consumed }}' as timestamptz), cast('{{ modules.datetime.datetime.fromisoformat(since | string).isoformat() }}' as timestamptz))
    {%- endif -%}
{%- endmacro %}
