-- DuckDB: landed rows filled from their payloads, each parsed once (a list of paths), by the rule of
-- land/records.py's identifier_field: a string, or a whole number as its digits (DuckDB keeps the
-- digits of one past 64 bits), NUL dropped, trimmed of ASCII white space, at most 1000 characters;
-- anything else is no identifier. A VTEX body (it has orderId) carries them in clientProfileData, a
-- pushed event in customer. A payload DuckDB's JSON reader refuses (a lone surrogate escape) keeps
-- no identifiers; its row is otherwise unchanged. With a key given twice DuckDB reads the first.
-- Reading payloads needs more than landing's buffer pool (48 MB by default): migrations run with
-- DuckDB's default memory limit, as builds do (migrate.upgrade), and the process's is set back after.

CREATE OR REPLACE TEMP MACRO identifier_kept(t) AS CASE WHEN length(t) <= 1000 THEN t END;
CREATE OR REPLACE TEMP MACRO identifier_trimmed(t) AS
    nullif(trim(replace(t, chr(0), ''), ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)), '');
CREATE OR REPLACE TEMP MACRO identifier_text(v) AS identifier_kept(identifier_trimmed(
    CASE
        WHEN json_type(v) = 'VARCHAR' THEN json_extract_string(v, '$')
        WHEN json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND regexp_full_match(CAST(v AS VARCHAR), '-?[0-9]+')
            THEN CAST(v AS VARCHAR)
    END
));

UPDATE cdp.orders_landing AS l
SET customer_document = f.customer_document,
    customer_document_type = f.customer_document_type,
    customer_phone = f.customer_phone
FROM (
    SELECT
        tenant_id,
        landing_id,
        identifier_text(v[1]) AS customer_document,
        identifier_text(v[2]) AS customer_document_type,
        identifier_text(v[3]) AS customer_phone
    FROM (
        SELECT
            tenant_id,
            landing_id,
            CASE WHEN h[1] IS NOT NULL
                THEN json_extract(h[2], ['$.document', '$.documentType', '$.phone'])
                ELSE json_extract(h[3], ['$.document', '$.document_type', '$.phone'])
            END AS v
        FROM (
            SELECT
                tenant_id,
                landing_id,
                try(json_extract(payload, ['$.orderId', '$.clientProfileData', '$.customer'])) AS h
            FROM cdp.orders_landing
            WHERE customer_document IS NULL AND customer_document_type IS NULL AND customer_phone IS NULL
        ) AS heads
    ) AS found
) AS f
WHERE f.tenant_id = l.tenant_id
    AND f.landing_id = l.landing_id
    AND (f.customer_document IS NOT NULL OR f.customer_document_type IS NOT NULL OR f.customer_phone IS NOT NULL);

DROP MACRO identifier_text;
DROP MACRO identifier_trimmed;
DROP MACRO identifier_kept;
