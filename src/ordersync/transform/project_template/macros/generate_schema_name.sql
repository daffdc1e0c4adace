{#
  This project's models, seeds and snapshots live in exactly the schema they name (`+schema` in
  dbt_project.yml, or config(schema=...)), never in dbt's default `<target schema>_<custom schema>`.
  ordersync's own models keep their schema (cdp): dbt gives a package's models the package's own
  generate_schema_name.

  Schema cdp is ordersync's: its tables (cdp.plans, cdp.tenants, ...) would be replaced by a model
  of the same name, so nothing of this project may be built there.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema = (custom_schema_name or target.schema) | trim -%}
    {%- if schema == 'cdp' and node.resource_type in ('model', 'seed', 'snapshot') and node.package_name != 'ordersync' -%}
        {{ exceptions.raise_compiler_error(
            node.resource_type ~ " " ~ node.name ~ " would be built in schema cdp, which belongs to ordersync; "
            ~ "give it a schema of its own (+schema in dbt_project.yml or config(schema=...))"
        ) }}
    {%- endif -%}
    {{ schema }}
{%- endmacro %}
