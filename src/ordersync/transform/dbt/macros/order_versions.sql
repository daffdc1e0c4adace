{#
  The order of an order's versions, in one place so that picking the latest version and the
  version guard can never disagree:

    1. the greater event_time (when this version happened at the source) wins;
    2. then the greater processing time, coalesce(event_ingested_at, event_time): a null
       event_ingested_at means the row arrived on time;
    3. then the greater payload_hash, compared byte by byte, so every warehouse breaks the last
       ties the same way whatever its collation.
#}

{#- The processing time of a landed version: when it landed, or when it happened if on time. -#}
{% macro processed_at(alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    coalesce({{ p }}event_ingested_at, {{ p }}event_time)
{%- endmacro %}


{#- An `order by` list that puts an order's newest version first. -#}
{% macro latest_version_first(alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    {{ p }}event_time desc, {{ processed_at(alias) }} desc, {{ byte_order(p ~ 'payload_hash') }} desc
{%- endmacro %}


{#- True when the version in `candidate` is strictly newer than the one in `current`. -#}
{% macro is_newer_version(candidate, current) -%}
    {%- set c_processed = processed_at(candidate) -%}
    {%- set o_processed = processed_at(current) -%}
    (
        {{ candidate }}.event_time > {{ current }}.event_time
        or ({{ candidate }}.event_time = {{ current }}.event_time and {{ c_processed }} > {{ o_processed }})
        or (
            {{ candidate }}.event_time = {{ current }}.event_time
            and {{ c_processed }} = {{ o_processed }}
            and {{ byte_order(candidate ~ '.payload_hash') }} > {{ byte_order(current ~ '.payload_hash') }}
        )
    )
{%- endmacro %}


{#- A text expression that compares in byte order (PostgreSQL otherwise uses the database's collation). -#}
{% macro byte_order(expr) -%}
    {{ return(adapter.dispatch('byte_order', 'ordersync')(expr)) }}
{%- endmacro %}

{% macro default__byte_order(expr) -%}
    {{ expr }}
{%- endmacro %}

{% macro postgres__byte_order(expr) -%}
    ({{ expr }} collate "C")
{%- endmacro %}
