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
-- Confined by leadledger.org_scope(p_organization_id), called first: the campaign and its coverage
-- rows belong to one organization. For an end user, the organization of his JWT claims:
-- p_organization_id and p_campaign_data.organization_id may only name it (anything else is
-- 'Organization not found', 23503, as for an organization that does not exist), and created_by is
-- always himself (a user id naming anyone else is 42501; an email address is kept in
-- created_by_email). For the service: p_organization_id (which must exist), else
-- p_campaign_data.organization_id (000 §1.1's field; an organization of that id is created when
-- none exists, as 20261202040100_campaign_tenancy did for the campaigns it moved, D46), else the
-- one organization of the created_by user (22023 naming p_organization_id when he belongs to
-- several), else the deployment's default organization (leadledger.org_default); two different
-- organizations named are 'Organization not found'.
CREATE OR REPLACE FUNCTION public.create_campaign_with_coverage(
    p_campaign_data jsonb,
    p_zip_codes jsonb,
    p_organization_id uuid DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_bad record;
    v_repeated text;
    v_campaign_id uuid;
    v_zip_count integer;
    v_estimated numeric;
    v_scope uuid;
    v_named uuid;
    v_creator uuid;
    v_organization uuid;
BEGIN
    v_scope := leadledger.org_scope(p_organization_id);
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
    -- Every ZIP item's rules, written once, evaluated set-based: one CASE per item, evaluated
    -- branch by branch (a value is cast only after its type was checked), gives the item's first
    -- problem as ".field: what is wrong"; the first bad item (in index order) is raised. Fields are
    -- checked in name order, as validate_object does. A valid list costs one scan (P5).
    SELECT z.o - 1 AS idx, z.problem INTO v_bad
      FROM (SELECT i.o, CASE
                WHEN jsonb_typeof(i.e) = 'string' THEN
                    CASE WHEN (i.e #>> '{}') !~ '^[0-9]{5}$'
                         THEN '.zip_code: must be a 5-digit ZIP code, got ' || left(i.e::text, 80) END
                WHEN jsonb_typeof(i.e) IS DISTINCT FROM 'object' THEN ': must be a JSON object'
                WHEN jsonb_typeof(i.e -> 'estimated_cost') NOT IN ('number', 'null')
                     OR (i.e ->> 'estimated_cost')::numeric < 0
                    THEN '.estimated_cost: must be a non-negative number, got ' || left((i.e -> 'estimated_cost')::text, 80)
                WHEN (i.e ->> 'estimated_cost')::numeric >= 100000000
                    THEN '.estimated_cost: must be less than 100000000, got ' || (i.e ->> 'estimated_cost')
                WHEN round((i.e ->> 'estimated_cost')::numeric, 6) <> (i.e ->> 'estimated_cost')::numeric
                    THEN '.estimated_cost: must have at most 6 decimal places, got ' || (i.e ->> 'estimated_cost')
                WHEN jsonb_typeof(i.e -> 'keywords') NOT IN ('array', 'null')
                     OR (jsonb_typeof(i.e -> 'keywords') = 'array'
                         AND EXISTS (SELECT 1 FROM jsonb_array_elements(i.e -> 'keywords') k WHERE jsonb_typeof(k) <> 'string'))
                    THEN '.keywords: must be an array of strings, got ' || left((i.e -> 'keywords')::text, 80)
                WHEN jsonb_typeof(i.e -> 'max_results') NOT IN ('number', 'null')
                     OR (i.e ->> 'max_results')::numeric <= 0
                     OR (i.e ->> 'max_results')::numeric <> trunc((i.e ->> 'max_results')::numeric)
                    THEN '.max_results: must be a positive integer, got ' || left((i.e -> 'max_results')::text, 80)
                WHEN (i.e ->> 'max_results')::numeric > 2147483647 THEN '.max_results: must be at most 2147483647'
                WHEN coalesce(jsonb_typeof(i.e -> 'zip_code'), 'null') = 'null' THEN '.zip_code: is required'
                WHEN jsonb_typeof(i.e -> 'zip_code') <> 'string' OR (i.e ->> 'zip_code') !~ '^[0-9]{5}$'
                    THEN '.zip_code: must be a 5-digit ZIP code, got ' || left((i.e -> 'zip_code')::text, 80)
            END AS problem
              FROM jsonb_array_elements(p_zip_codes) WITH ORDINALITY AS i(e, o)) z
     WHERE z.problem IS NOT NULL
     ORDER BY z.o
     LIMIT 1;
    IF FOUND THEN
        PERFORM leadledger.invalid_parameter(
            format('p_zip_codes[%s]%s', v_bad.idx, split_part(v_bad.problem, ': ', 1)),
            substr(v_bad.problem, position(': ' IN v_bad.problem) + 2));
    END IF;
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

    v_named := (p_campaign_data ->> 'organization_id')::uuid;
    IF leadledger.json_type_matches(p_campaign_data -> 'created_by', 'uuid') THEN
        v_creator := (p_campaign_data ->> 'created_by')::uuid;
    END IF;
    IF v_scope IS NOT NULL THEN
        -- An end user's organization, or the one the service acts in: the only one named.
        IF v_named IS NOT NULL AND v_named <> v_scope THEN
            PERFORM leadledger.raise_error('23503', 'Organization not found',
                                           'p_campaign_data.organization_id names another organization');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM public.organizations WHERE id = v_scope) THEN
            PERFORM leadledger.raise_error('23503', 'Organization not found', format('no organization with id %s', v_scope));
        END IF;
        v_organization := v_scope;
        IF NOT leadledger.org_is_service() THEN
            IF v_creator IS NOT NULL AND v_creator <> leadledger.org_claimed_user() THEN
                PERFORM leadledger.raise_error('42501', 'Not allowed: a campaign you create is created by you');
            END IF;
            v_creator := leadledger.org_claimed_user();
        END IF;
    ELSIF v_named IS NOT NULL THEN
        -- The service with 000 §1.1's organization_id: that organization, created when missing.
        INSERT INTO public.organizations (id, name) VALUES (v_named, 'Organization ' || v_named::text)
        ON CONFLICT (id) DO NOTHING;
        v_organization := v_named;
    ELSIF v_creator IS NOT NULL
          AND EXISTS (SELECT 1 FROM public.organization_members WHERE user_id = v_creator) THEN
        v_organization := leadledger.org_of_user(v_creator, 'p_organization_id');
    ELSE
        v_organization := leadledger.org_default();
        IF v_organization IS NULL THEN
            PERFORM leadledger.invalid_parameter('p_organization_id', 'is required: the deployment has no default organization');
        END IF;
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
        v_organization,
        v_creator,
        CASE WHEN NOT leadledger.json_type_matches(p_campaign_data -> 'created_by', 'uuid')
             THEN lower(btrim(p_campaign_data ->> 'created_by')) END,
        v_zip_count,
        v_estimated)
    RETURNING id INTO v_campaign_id;

    INSERT INTO public.gmaps_campaign_coverage
        (campaign_id, organization_id, zip_code, keywords, max_results, estimated_cost)
    SELECT v_campaign_id, v_organization,
           coalesce(e ->> 'zip_code', e #>> '{}'),
           CASE WHEN jsonb_typeof(e -> 'keywords') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(e -> 'keywords'))
                ELSE coalesce(ARRAY(SELECT jsonb_array_elements_text(p_campaign_data -> 'keywords')), '{}') END,
           (e ->> 'max_results')::numeric::integer,  -- 5.0 is a valid count too
           coalesce((e ->> 'estimated_cost')::numeric, 0)
      FROM jsonb_array_elements(p_zip_codes) e;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', v_campaign_id,
        'organization_id', v_organization,
        'zip_count', v_zip_count,
        'estimated_cost', v_estimated,
        'message', format('Campaign created with %s ZIP codes', v_zip_count)));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_campaign_with_coverage(jsonb, jsonb, uuid)', true);
