-- PostgreSQL: landed rows filled from their payloads with the rule of land/records.py's
-- identifier_field: a string or a whole number as its digits, NUL dropped, trimmed of ASCII white
-- space, at most 1000 characters; anything else is no identifier. A VTEX body (it has orderId)
-- carries them in clientProfileData, a pushed event in customer.
--
-- jsonb cannot hold NUL: a payload holding the escape \u0000 is read with U+FFFE in its place, which
-- is then dropped. A payload jsonb cannot read at all (a lone surrogate escape, a number past
-- numeric's range) fails its chunk, which is done again a row at a time; such a row keeps no
-- identifiers (its payload is unchanged). jsonb writes a number in exponent form (1e3) as its digits,
-- which the parser does not take as a whole number: the one value read differently.
--
-- The two functions exist only while this migration runs (dropped at its end).
CREATE FUNCTION cdp.landed_identifier_text(v jsonb, nul_marked boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN length(t) <= 1000 THEN t END
    FROM (
        SELECT nullif(btrim(
            CASE WHEN nul_marked THEN replace(raw, chr(65534), '') ELSE raw END,
            ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)
        ), '') AS t
        FROM (
            SELECT CASE jsonb_typeof(v)
                WHEN 'string' THEN v #>> '{}'
                WHEN 'number' THEN CASE WHEN v::text ~ '^-?[0-9]+$' THEN v::text END
            END AS raw
        ) AS r
    ) AS s
$$;

CREATE FUNCTION cdp.fill_landed_identifiers(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE cdp.orders_landing AS l
    SET customer_document = f.customer_document,
        customer_document_type = f.customer_document_type,
        customer_phone = f.customer_phone
    FROM (
        SELECT
            tenant_id,
            landing_id,
            cdp.landed_identifier_text(c -> 'document', marked) AS customer_document,
            cdp.landed_identifier_text(CASE WHEN vtex THEN c -> 'documentType' ELSE c -> 'document_type' END, marked)
                AS customer_document_type,
            cdp.landed_identifier_text(c -> 'phone', marked) AS customer_phone
        FROM (
            SELECT
                tenant_id,
                landing_id,
                marked,
                j -> 'orderId' IS NOT NULL AS vtex,
                CASE WHEN j -> 'orderId' IS NOT NULL THEN j -> 'clientProfileData' ELSE j -> 'customer' END AS c
            FROM (
                SELECT
                    tenant_id,
                    landing_id,
                    strpos(payload, '\u0000') > 0 AS marked,
                    CAST(
                        CASE WHEN strpos(payload, '\u0000') > 0 THEN replace(payload, '\u0000', '\ufffe') ELSE payload END
                        AS jsonb
                    ) AS j
                FROM cdp.orders_landing
                WHERE landing_id BETWEEN lo AND hi
                    AND customer_document IS NULL AND customer_document_type IS NULL AND customer_phone IS NULL
            ) AS parsed
        ) AS found
    ) AS f
    WHERE f.tenant_id = l.tenant_id
        AND f.landing_id = l.landing_id
        AND (f.customer_document IS NOT NULL OR f.customer_document_type IS NOT NULL OR f.customer_phone IS NOT NULL)
$$;

DO $$
DECLARE
    lo bigint;
    hi bigint;
    chunk constant bigint := 50000;
    id bigint;
BEGIN
    SELECT min(landing_id), max(landing_id) INTO lo, hi FROM cdp.orders_landing;
    WHILE lo <= hi LOOP
        BEGIN
            PERFORM cdp.fill_landed_identifiers(lo, lo + chunk - 1);
        EXCEPTION WHEN data_exception THEN
            FOR id IN SELECT landing_id FROM cdp.orders_landing WHERE landing_id BETWEEN lo AND lo + chunk - 1 LOOP
                BEGIN
                    PERFORM cdp.fill_landed_identifiers(id, id);
                EXCEPTION WHEN data_exception THEN
                    NULL;  -- this payload cannot be read as jsonb: no identifiers
                END;
            END LOOP;
        END;
        lo := lo + chunk;
    END LOOP;
END
$$;

DROP FUNCTION cdp.fill_landed_identifiers(bigint, bigint);
DROP FUNCTION cdp.landed_identifier_text(jsonb, boolean);
