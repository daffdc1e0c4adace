{#
  Money in the models. One order's total_value is NUMERIC(18, 2) (the landing column: at most
  10^16 - 0.01, what validation lets in), and any number of such orders may fall on one day, so
  every sum of money (and every figure derived from one) is NUMERIC(38, 2): 36 integer digits,
  room for 10^20 of the largest orders on one day, the widest decimal DuckDB has. Counts are BIGINT.
#}

{#- The type of a sum of money (revenue, pending and canceled values, averages, revisions). -#}
{% macro money_sum_type() -%}
    numeric(38, 2)
{%- endmacro %}


{#-
  `total / count` to the cent, rounded half up, exactly: DuckDB divides decimals as doubles (off by
  units past 10^15), so the quotient is taken in whole cents by integer division on both warehouses.
  Both arguments are zero or more and `count` is above zero.
-#}
{% macro average_money(total, count) -%}
    {{ return(adapter.dispatch('average_money', 'ordersync')(total, count)) }}
{%- endmacro %}

{% macro default__average_money(total, count) -%}
    (cast(div(2 * ({{ total }}) * 100 + ({{ count }}), 2 * ({{ count }})) as numeric(38, 0)) * 0.01)
{%- endmacro %}

{% macro duckdb__average_money(total, count) -%}
    (cast((2 * cast(({{ total }}) * 100 as hugeint) + ({{ count }})) // (2 * ({{ count }})) as decimal(38, 0)) * 0.01)
{%- endmacro %}
