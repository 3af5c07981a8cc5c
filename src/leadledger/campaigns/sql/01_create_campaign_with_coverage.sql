-- Campaign pipeline, current state: 1. create_campaign_with_coverage.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 1. create_campaign_with_coverage
-- ---------------------------------------------------------------------------------------------
-- create_campaign_with_coverage: creates a campaign and one coverage row per ZIP code, or nothing at all.
-- Guarantees: every input is validated before the first write (22023 naming the field: a
-- missing name, a non-array, a malformed or repeated ZIP, a count or amount the columns cannot
-- hold); the two inserts run in the function's single transaction, so no campaign exists
-- without its coverage; the unique (campaign_id, zip_code) constraint backs the repeated-ZIP
-- check. ZIP items are objects {zip_code, keywords, max_results, estimated_cost} or bare
-- "12345" strings; the campaign's estimated cost is the sum of its ZIPs'. created_by is a user id
-- (stored in created_by) or, as the document's example passes it, an email address (stored
-- lower-cased in created_by_email; docs/decisions.md D39).
CREATE OR REPLACE FUNCTION public.create_campaign_with_coverage(p_campaign_data jsonb, p_zip_codes jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_item jsonb;
    v_index integer;
    v_repeated text;
    v_campaign_id uuid;
    v_zip_count integer;
    v_estimated numeric;
BEGIN
    PERFORM leadledger.validate_object(p_campaign_data, 'p_campaign_data', '{
        "name": "string!", "description": "string", "keywords": "string_array", "location": "string",
        "coverage_profile": "string", "organization_id": "uuid", "created_by": "uuid_or_email"}');
    IF length(btrim(p_campaign_data ->> 'name')) > 200 THEN
        PERFORM leadledger.invalid_parameter('p_campaign_data.name', 'must be at most 200 characters');
    END IF;
    PERFORM leadledger.require_array(p_zip_codes, 'p_zip_codes', 5000);
    IF jsonb_array_length(p_zip_codes) = 0 THEN
        PERFORM leadledger.invalid_parameter('p_zip_codes', 'must list at least one ZIP code');
    END IF;
    -- One set-based pass finds the items that are not plainly valid (the expression accepts only
    -- items the per-item checks below accept, so nothing gets through that they would refuse);
    -- only those items, in index order, go through the per-item checks, which raise the exact
    -- message for the first bad one. A valid list costs one scan instead of a PL/pgSQL
    -- validate_object call per ZIP (P5, docs/benchmarks.md).
    FOR v_item, v_index IN
        SELECT z.e, z.o - 1 FROM jsonb_array_elements(p_zip_codes) WITH ORDINALITY AS z(e, o)
         WHERE NOT coalesce(CASE jsonb_typeof(z.e)
            WHEN 'string' THEN (z.e #>> '{}') ~ '^[0-9]{5}$'
            WHEN 'object' THEN
                jsonb_typeof(z.e -> 'zip_code') = 'string' AND (z.e ->> 'zip_code') ~ '^[0-9]{5}$'
                AND CASE coalesce(jsonb_typeof(z.e -> 'keywords'), 'null')
                        WHEN 'null' THEN true
                        WHEN 'array' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(z.e -> 'keywords') k
                                                       WHERE jsonb_typeof(k) <> 'string')
                        ELSE false END
                AND CASE coalesce(jsonb_typeof(z.e -> 'max_results'), 'null')
                        WHEN 'null' THEN true
                        WHEN 'number' THEN (z.e ->> 'max_results')::numeric BETWEEN 1 AND 2147483647
                                       AND (z.e ->> 'max_results')::numeric = trunc((z.e ->> 'max_results')::numeric)
                        ELSE false END
                AND CASE coalesce(jsonb_typeof(z.e -> 'estimated_cost'), 'null')
                        WHEN 'null' THEN true
                        WHEN 'number' THEN (z.e ->> 'estimated_cost')::numeric >= 0
                                       AND (z.e ->> 'estimated_cost')::numeric < 100000000
                                       AND round((z.e ->> 'estimated_cost')::numeric, 6)
                                           = (z.e ->> 'estimated_cost')::numeric
                        ELSE false END
            END, false)
         ORDER BY z.o
    LOOP
        IF jsonb_typeof(v_item) = 'string' THEN
            v_item := jsonb_build_object('zip_code', v_item);
        END IF;
        PERFORM leadledger.validate_object(v_item, format('p_zip_codes[%s]', v_index), '{
            "zip_code": "zip5!", "keywords": "string_array", "max_results": "positive_integer",
            "estimated_cost": "nonnegative_number"}');
        IF (v_item ->> 'max_results')::numeric > 2147483647 THEN
            PERFORM leadledger.invalid_parameter(format('p_zip_codes[%s].max_results', v_index),
                                                 'must be at most 2147483647');
        END IF;
        IF v_item ? 'estimated_cost' AND jsonb_typeof(v_item -> 'estimated_cost') = 'number' THEN
            PERFORM leadledger.gmaps_check_amount((v_item ->> 'estimated_cost')::numeric,
                                                  format('p_zip_codes[%s].estimated_cost', v_index));
        END IF;
    END LOOP;
    SELECT zip INTO v_repeated
      FROM (SELECT coalesce(e ->> 'zip_code', e #>> '{}') AS zip FROM jsonb_array_elements(p_zip_codes) e) z
     GROUP BY zip HAVING count(*) > 1 ORDER BY zip LIMIT 1;
    IF FOUND THEN
        PERFORM leadledger.invalid_parameter('p_zip_codes', format('ZIP code %s is listed more than once', v_repeated));
    END IF;

    SELECT count(*), coalesce(sum((e ->> 'estimated_cost')::numeric), 0)
      INTO v_zip_count, v_estimated
      FROM jsonb_array_elements(p_zip_codes) e;
    IF round(v_estimated, 6) >= 100000000 THEN
        PERFORM leadledger.invalid_parameter('p_zip_codes', format(
            'the estimated costs add up to %s; the campaign total must be less than 100000000', v_estimated));
    END IF;

    INSERT INTO public.gmaps_campaigns
        (name, description, keywords, location, coverage_profile, organization_id, created_by,
         created_by_email, target_zip_count, estimated_cost)
    VALUES (
        btrim(p_campaign_data ->> 'name'),
        p_campaign_data ->> 'description',
        coalesce(ARRAY(SELECT jsonb_array_elements_text(p_campaign_data -> 'keywords')), '{}'),
        p_campaign_data ->> 'location',
        p_campaign_data ->> 'coverage_profile',
        (p_campaign_data ->> 'organization_id')::uuid,
        CASE WHEN leadledger.json_type_matches(p_campaign_data -> 'created_by', 'uuid')
             THEN (p_campaign_data ->> 'created_by')::uuid END,
        CASE WHEN NOT leadledger.json_type_matches(p_campaign_data -> 'created_by', 'uuid')
             THEN lower(btrim(p_campaign_data ->> 'created_by')) END,
        v_zip_count,
        v_estimated)
    RETURNING id INTO v_campaign_id;

    INSERT INTO public.gmaps_campaign_coverage (campaign_id, zip_code, keywords, max_results, estimated_cost)
    SELECT v_campaign_id,
           coalesce(e ->> 'zip_code', e #>> '{}'),
           CASE WHEN jsonb_typeof(e -> 'keywords') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(e -> 'keywords'))
                ELSE coalesce(ARRAY(SELECT jsonb_array_elements_text(p_campaign_data -> 'keywords')), '{}') END,
           (e ->> 'max_results')::numeric::integer,  -- 5.0 is a valid count too
           coalesce((e ->> 'estimated_cost')::numeric, 0)
      FROM jsonb_array_elements(p_zip_codes) e;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', v_campaign_id,
        'zip_count', v_zip_count,
        'estimated_cost', v_estimated,
        'message', format('Campaign created with %s ZIP codes', v_zip_count)));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_campaign_with_coverage(jsonb, jsonb)');
