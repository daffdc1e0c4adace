{#
  An example model of your own: orders and their gross value (cancellations included) per tenant,
  order date, sales channel and currency, from ordersync's current orders (cdp.fct_orders;
  `ref('fct_orders')` finds it too). Revenue by ordersync's rules (valid orders, the [orders]
  settings) is in cdp.revenue_daily: `ref('ordersync', 'revenue_daily')`.
#}
select
    o.tenant_id,
    o.order_date,
    o.sales_channel,
    o.currency_code,
    count(*) as orders,
    sum(o.total_value) as gross_value
from {{ ref('ordersync', 'fct_orders') }} as o
group by o.tenant_id, o.order_date, o.sales_channel, o.currency_code
