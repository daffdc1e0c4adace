{#
  Every ordersync model lives in exactly the schema it names (`cdp`), never in dbt's default
  `<target schema>_<custom schema>` (which would give `cdp_cdp`).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
