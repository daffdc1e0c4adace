{#-
  A value of this build: ordersync passes a build's values (the ledger range, built_at, the
  [orders] and [revisions] settings, the days plans left to redo) as JSON in the environment
  variable ORDERSYNC_DBT_BUILD, not as --vars. dbt parses the whole project again whenever --vars
  change, and they change every build; a changed environment variable makes it parse again only
  the files that read it. It is read only when the SQL is made (`execute`): a variable read while
  parsing is recorded in the parse, and its next value would have those files parsed again on every
  build. A plain `dbt build` without the variable gets `var(name, default)`.
-#}
{% macro build_var(name, default=none) -%}
    {%- set given = fromjson(env_var('ORDERSYNC_DBT_BUILD', '{}')) if execute else {} -%}
    {%- if name in given -%}
        {{ return(given[name]) }}
    {%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}
