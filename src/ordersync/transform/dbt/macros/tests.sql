{#- No two rows share the values of `columns` (among the rows `config.where` keeps). -#}
{% test unique_together(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
