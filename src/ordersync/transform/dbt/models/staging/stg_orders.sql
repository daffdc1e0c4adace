-- Every landed version, typed, without the raw payload (the one heavy column), except the withdrawn
-- ones (macros/withdrawals.sql).
-- The types are spelled the same way on DuckDB and PostgreSQL.
select
    cast(landing_id as bigint)                as landing_id,
    cast(tenant_id as integer)                as tenant_id,
    cast(order_id as text)                    as order_id,
    cast(event_time as timestamptz)           as event_time,
    cast(event_ingested_at as timestamptz)    as event_ingested_at,
    cast(order_date as date)                  as order_date,
    cast(creation_date as timestamptz)        as creation_date,
    cast(status as text)                      as status,
    cast(total_value as numeric(18, 2))       as total_value,
    cast(currency_code as text)               as currency_code,
    cast(sales_channel as text)               as sales_channel,
    cast(customer_id as text)                 as customer_id,
    cast(customer_email as text)              as customer_email,
    cast(customer_name as text)               as customer_name,
    cast(customer_document as text)           as customer_document,
    cast(customer_document_type as text)      as customer_document_type,
    cast(customer_phone as text)              as customer_phone,
    cast(payload_hash as text)                as payload_hash,
    cast(source as text)                      as source,
    cast(run_id as text)                      as run_id,
    cast(batch_id as bigint)                  as batch_id
from {{ source('cdp', 'orders_landing') }} as landed
where not {{ is_withdrawn('landed') }}
