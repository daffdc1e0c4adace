{#-
  A value of this build: ordersync passes a build's values (the ledger range, built_at, the
  [orders] and [revisions] settings, the days plans left to redo) as JSON in the environment
  variable ORDERSYNC_DBT_BUILD, not as --vars. dbt parses the whole project again whenever --vars
  change, and they change every build; a changed environment variable makes it parse again only
  the files that read it. A plain `dbt build` without the variable gets `var(name, default)`.
-#}
{% macro build_var(name, default=none) -%}
    {%- set given = fromjson(env_var('ORDERSYNC_DBT_BUILD', '{}')) -%}
    {%- if name in given -%}
        {{ return(given[name]) }}
    {%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}
