-- PostgreSQL: landed rows filled from their payloads with the rule of land/records.py's
-- identifier_field: a string or a whole number as its digits, NUL dropped, trimmed of ASCII white
-- space, at most 1000 characters; anything else is no identifier. A VTEX body (it has orderId)
-- carries them in clientProfileData, a pushed event in customer.
--
-- jsonb cannot hold NUL: a payload holding the escape \u0000 is read with U+FFFE in its place, which
-- is then dropped. A payload jsonb cannot read at all (a number past numeric's range, in any field)
-- fails its range of rows, which is split until that row is alone; it keeps no identifiers (its
-- payload is unchanged). jsonb writes a number in exponent form (1e3) as its digits, which the parser
-- does not take as a whole number: the one value read differently.
--
-- The function exists only while this migration runs (dropped at its end). Written as nested subqueries, no function per value: the payload is parsed once per row (OFFSET 0
-- keeps the planner from copying the parse into each use), then each value is read, trimmed, kept.
CREATE FUNCTION cdp.fill_landed_identifiers(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE cdp.orders_landing AS l
    SET customer_document = f.customer_document,
        customer_document_type = f.customer_document_type,
        customer_phone = f.customer_phone
    FROM (
        SELECT
            tenant_id,
            order_id,
            payload_hash,
            CASE WHEN length(document) <= 1000 THEN document END AS customer_document,
            CASE WHEN length(document_type) <= 1000 THEN document_type END AS customer_document_type,
            CASE WHEN length(phone) <= 1000 THEN phone END AS customer_phone
        FROM (
            SELECT
                tenant_id,
                order_id,
                payload_hash,
                nullif(btrim(
                    CASE WHEN marked THEN replace(document, chr(65534), '') ELSE document END,
                    ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)
                ), '') AS document,
                nullif(btrim(
                    CASE WHEN marked THEN replace(document_type, chr(65534), '') ELSE document_type END,
                    ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)
                ), '') AS document_type,
                nullif(btrim(
                    CASE WHEN marked THEN replace(phone, chr(65534), '') ELSE phone END,
                    ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)
                ), '') AS phone
            FROM (
                SELECT
                    tenant_id,
                    order_id,
                    payload_hash,
                    marked,
                    CASE jsonb_typeof(d)
                        WHEN 'string' THEN d #>> '{}'
                        WHEN 'number' THEN CASE WHEN d::text ~ '^-?[0-9]+$' THEN d::text END
                    END AS document,
                    CASE jsonb_typeof(t)
                        WHEN 'string' THEN t #>> '{}'
                        WHEN 'number' THEN CASE WHEN t::text ~ '^-?[0-9]+$' THEN t::text END
                    END AS document_type,
                    CASE jsonb_typeof(p)
                        WHEN 'string' THEN p #>> '{}'
                        WHEN 'number' THEN CASE WHEN p::text ~ '^-?[0-9]+$' THEN p::text END
                    END AS phone
                FROM (
                    SELECT
                        tenant_id,
                        order_id,
                        payload_hash,
                        marked,
                        CASE WHEN vtex THEN j -> 'clientProfileData' -> 'document'
                            ELSE j -> 'customer' -> 'document' END AS d,
                        CASE WHEN vtex THEN j -> 'clientProfileData' -> 'documentType'
                            ELSE j -> 'customer' -> 'document_type' END AS t,
                        CASE WHEN vtex THEN j -> 'clientProfileData' -> 'phone'
                            ELSE j -> 'customer' -> 'phone' END AS p
                    FROM (
                        SELECT tenant_id, order_id, payload_hash, marked, j, j -> 'orderId' IS NOT NULL AS vtex
                        FROM (
                            SELECT
                                tenant_id,
                                order_id,
                                payload_hash,
                                strpos(payload, '\u0000') > 0 AS marked,
                                CAST(
                                    CASE WHEN strpos(payload, '\u0000') > 0
                                        THEN replace(payload, '\u0000', '\ufffe') ELSE payload END
                                    AS jsonb
                                ) AS j
                            FROM cdp.orders_landing
                            WHERE landing_id BETWEEN lo AND hi
                                AND customer_document IS NULL AND customer_document_type IS NULL
                                AND customer_phone IS NULL
                            OFFSET 0
                        ) AS parsed
                        OFFSET 0
                    ) AS heads
                    OFFSET 0
                ) AS found
                OFFSET 0
            ) AS raw
        ) AS trimmed
    ) AS f
    -- the version's key: its unique index finds each row, whatever plan is chosen
    WHERE f.tenant_id = l.tenant_id
        AND f.order_id = l.order_id
        AND f.payload_hash = l.payload_hash
        AND (f.customer_document IS NOT NULL OR f.customer_document_type IS NOT NULL OR f.customer_phone IS NOT NULL)
$$;

-- Ranges of landing ids, 50,000 at a time; a range that fails is split in two until the row that
-- fails is alone (and left as it is).
DO $$
DECLARE
    todo int8range[];
    r int8range;
    mid bigint;
BEGIN
    SELECT coalesce(array_agg(int8range(s, s + 50000) ORDER BY s DESC), '{}')
    INTO todo
    FROM generate_series(
        (SELECT min(landing_id) FROM cdp.orders_landing), (SELECT max(landing_id) FROM cdp.orders_landing), 50000
    ) AS s;
    WHILE cardinality(todo) > 0 LOOP
        r := todo[cardinality(todo)];
        todo := todo[1:cardinality(todo) - 1];
        BEGIN
            PERFORM cdp.fill_landed_identifiers(lower(r), upper(r) - 1);
        EXCEPTION WHEN data_exception THEN
            IF upper(r) - lower(r) > 1 THEN
                mid := (lower(r) + upper(r)) / 2;
                todo := todo || int8range(mid, upper(r)) || int8range(lower(r), mid);
            END IF;
        END;
    END LOOP;
END
$$;

DROP FUNCTION cdp.fill_landed_identifiers(bigint, bigint);
