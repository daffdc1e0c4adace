{{ config(materialized='view') }}

-- The current orders under the name the monitoring queries use (cdp.order_events).
select
    tenant_id,
    order_id,
    order_date,
    creation_date,
    status,
    total_value,
    currency_code,
    sales_channel,
    customer_id,
    customer_email,
    customer_name,
    event_time,
    event_ingested_at
from {{ ref('fct_orders') }}
