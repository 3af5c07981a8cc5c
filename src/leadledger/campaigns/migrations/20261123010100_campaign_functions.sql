-- Campaign pipeline, part 2: the stored functions (the public contract: names and parameter
-- names are called by Supabase rpc(), the Python client and the HTTP API) and their helpers.
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- Helpers (schema leadledger, not exposed)
-- ---------------------------------------------------------------------------------------------

-- gmaps_email_rank: the priority of an email source; a lower rank never replaces a higher one.
CREATE FUNCTION leadledger.gmaps_email_rank(p_source text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_source WHEN 'linkedin' THEN 3 WHEN 'facebook' THEN 2 WHEN 'google_maps' THEN 1 ELSE 0 END
$$;

-- gmaps_assert_campaign: 22023 when p_campaign_id is missing, 'Campaign not found' (23503) when
-- no such campaign exists. Takes no lock.
CREATE FUNCTION leadledger.gmaps_assert_campaign(p_campaign_id uuid)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_campaign_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_campaign_id', 'is required');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.gmaps_campaigns WHERE id = p_campaign_id) THEN
        RAISE EXCEPTION 'Campaign not found'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('no campaign with id %s', p_campaign_id);
    END IF;
END
$$;

-- gmaps_check_enrichment_type: 22023 unless p_type is facebook or linkedin.
CREATE FUNCTION leadledger.gmaps_check_enrichment_type(p_type text, p_field text DEFAULT 'p_enrichment_type')
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_type IS NULL OR p_type NOT IN ('facebook', 'linkedin') THEN
        PERFORM leadledger.invalid_parameter(
            p_field, format('must be facebook or linkedin, got %s', coalesce(quote_literal(p_type), 'nothing')));
    END IF;
END
$$;

-- gmaps_check_amount: 22023 naming p_field unless p_amount is a dollar amount the numeric(14, 6)
-- cost columns can hold: given, a number (numeric accepts 'NaN', which compares greater than every
-- number and would poison a running total), not negative, and below 10^8 once rounded to 6 places
-- (so an overflow is reported as bad input naming the field, not as a bare 22003).
CREATE FUNCTION leadledger.gmaps_check_amount(p_amount numeric, p_field text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_amount IS NULL OR p_amount = 'NaN'::numeric OR p_amount < 0 THEN
        PERFORM leadledger.invalid_parameter(
            p_field, format('must be a non-negative amount, got %s', coalesce(p_amount::text, 'nothing')));
    END IF;
    IF round(p_amount, 6) >= 100000000 THEN
        PERFORM leadledger.invalid_parameter(p_field, format('must be less than 100000000, got %s', p_amount));
    END IF;
END
$$;

-- gmaps_first_email: the first item of a JSON array of strings that is an email address
-- (trimmed, lower case), NULL when there is none or p_list is not an array. Scraped lists carry
-- junk ("info at example dot com"); the best email of a business must be one that can be verified.
CREATE FUNCTION leadledger.gmaps_first_email(p_list jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT lower(btrim(x))
      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_list) = 'array' THEN p_list END)
           WITH ORDINALITY AS m(x, n)
     WHERE leadledger.json_type_matches(to_jsonb(btrim(x)), 'email')
     ORDER BY n
     LIMIT 1
$$;

-- gmaps_business_brief: the fields an enrichment worker needs, as JSON.
CREATE FUNCTION leadledger.gmaps_business_brief(p_business public.gmaps_businesses)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'business_id', p_business.id, 'campaign_id', p_business.campaign_id,
        'place_id', p_business.place_id, 'name', p_business.name, 'address', p_business.address,
        'city', p_business.city, 'state', p_business.state, 'postal_code', p_business.postal_code,
        'phone', p_business.phone, 'website', p_business.website, 'email', p_business.email,
        'email_source', p_business.email_source, 'facebook_url', p_business.facebook_url,
        'linkedin_url', p_business.linkedin_url, 'category', p_business.category)
$$;

-- ---------------------------------------------------------------------------------------------
-- 1. create_campaign_with_coverage
-- ---------------------------------------------------------------------------------------------
-- Creates a campaign and one coverage row per ZIP code, or nothing at all.
-- Guarantees: every input is validated before the first write (22023 naming the field: a
-- missing name, a non-array, a malformed or repeated ZIP, a count or amount the columns cannot
-- hold); the two inserts run in the function's single transaction, so no campaign exists
-- without its coverage; the unique (campaign_id, zip_code) constraint backs the repeated-ZIP
-- check. ZIP items are objects {zip_code, keywords, max_results, estimated_cost} or bare
-- "12345" strings; the campaign's estimated cost is the sum of its ZIPs'.
CREATE FUNCTION public.create_campaign_with_coverage(p_campaign_data jsonb, p_zip_codes jsonb)
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
        "coverage_profile": "string", "organization_id": "uuid", "created_by": "uuid"}');
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
                                       AND round((z.e ->> 'estimated_cost')::numeric, 6) < 100000000
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
         target_zip_count, estimated_cost)
    VALUES (
        btrim(p_campaign_data ->> 'name'),
        p_campaign_data ->> 'description',
        coalesce(ARRAY(SELECT jsonb_array_elements_text(p_campaign_data -> 'keywords')), '{}'),
        p_campaign_data ->> 'location',
        p_campaign_data ->> 'coverage_profile',
        (p_campaign_data ->> 'organization_id')::uuid,
        (p_campaign_data ->> 'created_by')::uuid,
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

-- ---------------------------------------------------------------------------------------------
-- 2. insert_businesses_batch
-- ---------------------------------------------------------------------------------------------
-- Upserts a batch of Google Maps results into one campaign in one set-based statement.
-- Guarantees: a place is one business per campaign (unique (campaign_id, place_id) and
-- INSERT ... ON CONFLICT DO UPDATE), so overlapping batches from neighbouring ZIPs, even running
-- at once, store each place exactly once; rows are inserted in place_id order so two batches
-- with the same places lock them in the same order and cannot deadlock; an existing business
-- gets only new non-empty fields; a Google Maps email never replaces a Facebook or LinkedIn one.
-- Items: the seed shape (place_id, name, address, email, phone, website, raw_data) or Apify
-- Google Maps Scraper items as they are (placeId, title, street, city, postalCode, state,
-- countryCode, phone, website, categoryName, totalScore, reviewsCount, location{lat,lng},
-- emails, facebooks, linkedIns ...), kept whole in raw_data. The email is `email`, else the
-- first item of `emails` that is an email address (scraped lists carry junk). Items without a
-- place id and repeats of a place within the batch are skipped and counted; a malformed item (a
-- field of the wrong type, a number out of its column's range, an `email` that is not an
-- address) fails the call with 22023 naming its index and field, before anything is written.
CREATE FUNCTION public.insert_businesses_batch(p_campaign_id uuid, p_zip_code varchar, p_businesses jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '60s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_bad record;
    v_total integer;
    v_inserted integer;
    v_updated integer;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    IF p_zip_code IS NOT NULL AND p_zip_code !~ '^[0-9]{5}$' THEN
        PERFORM leadledger.invalid_parameter('p_zip_code', format('must be 5 digits, got %s', quote_literal(p_zip_code)));
    END IF;
    PERFORM leadledger.require_array(p_businesses, 'p_businesses', 50000);
    v_total := jsonb_array_length(p_businesses);

    -- The first malformed item, if any. One CASE, evaluated branch by branch, so a value is cast
    -- only after its type was checked and nothing can fail half-way through the insert.
    SELECT idx, problem INTO v_bad FROM (
        SELECT i.o - 1 AS idx, CASE
            WHEN jsonb_typeof(i.e) <> 'object' THEN 'must be a JSON object'
            WHEN jsonb_typeof(i.e -> 'place_id') NOT IN ('string', 'null') THEN 'place_id: must be a string'
            WHEN jsonb_typeof(i.e -> 'placeId') NOT IN ('string', 'null') THEN 'placeId: must be a string'
            WHEN length(btrim(coalesce(i.e ->> 'place_id', i.e ->> 'placeId'))) > 512
                THEN CASE WHEN jsonb_typeof(i.e -> 'place_id') = 'string' THEN 'place_id' ELSE 'placeId' END
                     || ': must be at most 512 characters'
            WHEN jsonb_typeof(i.e -> 'totalScore') NOT IN ('number', 'null') THEN 'totalScore: must be a number'
            WHEN jsonb_typeof(i.e -> 'rating') NOT IN ('number', 'null') THEN 'rating: must be a number'
            WHEN (i.e ->> 'totalScore')::numeric NOT BETWEEN 0 AND 5 THEN 'totalScore: must be between 0 and 5'
            WHEN (i.e ->> 'rating')::numeric NOT BETWEEN 0 AND 5 THEN 'rating: must be between 0 and 5'
            WHEN jsonb_typeof(i.e -> 'reviewsCount') NOT IN ('number', 'null') THEN 'reviewsCount: must be a number'
            WHEN jsonb_typeof(i.e -> 'reviews_count') NOT IN ('number', 'null') THEN 'reviews_count: must be a number'
            WHEN (i.e ->> 'reviewsCount')::numeric NOT BETWEEN 0 AND 2147483647
                THEN 'reviewsCount: must be between 0 and 2147483647'
            WHEN (i.e ->> 'reviews_count')::numeric NOT BETWEEN 0 AND 2147483647
                THEN 'reviews_count: must be between 0 and 2147483647'
            WHEN jsonb_typeof(i.e -> 'location') NOT IN ('object', 'null') THEN 'location: must be an object'
            WHEN jsonb_typeof(i.e #> '{location,lat}') NOT IN ('number', 'null') THEN 'location.lat: must be a number'
            WHEN jsonb_typeof(i.e #> '{location,lng}') NOT IN ('number', 'null') THEN 'location.lng: must be a number'
            WHEN (i.e #>> '{location,lat}')::numeric NOT BETWEEN -90 AND 90 THEN 'location.lat: must be between -90 and 90'
            WHEN (i.e #>> '{location,lng}')::numeric NOT BETWEEN -180 AND 180
                THEN 'location.lng: must be between -180 and 180'
            WHEN jsonb_typeof(i.e -> 'email') NOT IN ('string', 'null') THEN 'email: must be a string'
            WHEN nullif(btrim(i.e ->> 'email'), '') IS NOT NULL
                 AND NOT leadledger.json_type_matches(to_jsonb(btrim(i.e ->> 'email')), 'email')
                THEN 'email: must be an email address'
            WHEN jsonb_typeof(i.e -> 'emails') NOT IN ('array', 'null') THEN 'emails: must be an array'
            WHEN jsonb_typeof(i.e -> 'emails') = 'array'
                 AND NOT leadledger.json_type_matches(i.e -> 'emails', 'string_array')
                THEN 'emails: must be an array of strings'
            WHEN jsonb_typeof(i.e -> 'raw_data') NOT IN ('object', 'null') THEN 'raw_data: must be an object'
        END AS problem
          FROM jsonb_array_elements(p_businesses) WITH ORDINALITY AS i(e, o)
    ) checked
     WHERE problem IS NOT NULL
     ORDER BY idx
     LIMIT 1;
    IF FOUND THEN
        -- 'totalScore: must be a number' names p_businesses[i].totalScore, like validate_object does.
        IF position(': ' IN v_bad.problem) > 0 THEN
            PERFORM leadledger.invalid_parameter(
                format('p_businesses[%s].%s', v_bad.idx, split_part(v_bad.problem, ': ', 1)),
                substr(v_bad.problem, position(': ' IN v_bad.problem) + 2));
        END IF;
        PERFORM leadledger.invalid_parameter(format('p_businesses[%s]', v_bad.idx), v_bad.problem);
    END IF;

    WITH items AS (
        SELECT i.o, i.e, nullif(btrim(coalesce(i.e ->> 'place_id', i.e ->> 'placeId')), '') AS place_id
          FROM jsonb_array_elements(p_businesses) WITH ORDINALITY AS i(e, o)
    ), firsts AS (
        SELECT DISTINCT ON (place_id) o, e, place_id FROM items WHERE place_id IS NOT NULL ORDER BY place_id, o
    ), rows AS (
        SELECT place_id,
               nullif(btrim(coalesce(e ->> 'name', e ->> 'title')), '') AS name,
               nullif(btrim(e ->> 'address'), '') AS address,
               nullif(btrim(e ->> 'street'), '') AS street,
               nullif(btrim(e ->> 'city'), '') AS city,
               nullif(btrim(coalesce(e ->> 'postal_code', e ->> 'postalCode')), '') AS postal_code,
               nullif(btrim(e ->> 'state'), '') AS state,
               nullif(btrim(coalesce(e ->> 'country_code', e ->> 'countryCode')), '') AS country_code,
               nullif(btrim(coalesce(e ->> 'phone', e ->> 'phoneUnformatted')), '') AS phone,
               nullif(btrim(e ->> 'website'), '') AS website,
               nullif(btrim(coalesce(e ->> 'category', e ->> 'categoryName')), '') AS category,
               round(coalesce(e ->> 'totalScore', e ->> 'rating')::numeric, 2) AS rating,
               coalesce(e ->> 'reviewsCount', e ->> 'reviews_count')::numeric::integer AS reviews_count,
               (e #>> '{location,lat}')::double precision AS latitude,
               (e #>> '{location,lng}')::double precision AS longitude,
               coalesce(lower(nullif(btrim(e ->> 'email'), '')), leadledger.gmaps_first_email(e -> 'emails')) AS email,
               nullif(btrim(coalesce(e ->> 'facebook_url', e -> 'facebooks' ->> 0)), '') AS facebook_url,
               nullif(btrim(coalesce(e ->> 'linkedin_url', e -> 'linkedIns' ->> 0)), '') AS linkedin_url,
               CASE WHEN e ? 'raw_data' THEN e -> 'raw_data' ELSE e END AS raw_data
          FROM firsts
    ), upserted AS (
        INSERT INTO public.gmaps_businesses AS b
            (campaign_id, place_id, zip_code, name, address, street, city, postal_code, state,
             country_code, phone, website, category, rating, reviews_count, latitude, longitude,
             email, email_source, facebook_url, linkedin_url, raw_data)
        SELECT p_campaign_id, r.place_id,
               coalesce(p_zip_code, CASE WHEN r.postal_code ~ '^[0-9]{5}$' THEN r.postal_code END),
               r.name, r.address, r.street, r.city, r.postal_code, r.state, r.country_code, r.phone,
               r.website, r.category, r.rating, r.reviews_count, r.latitude, r.longitude, r.email,
               CASE WHEN r.email IS NOT NULL THEN 'google_maps' END, r.facebook_url, r.linkedin_url,
               r.raw_data
          FROM rows r
         ORDER BY r.place_id
        ON CONFLICT (campaign_id, place_id) DO UPDATE SET
            name          = coalesce(excluded.name, b.name),
            address       = coalesce(excluded.address, b.address),
            street        = coalesce(excluded.street, b.street),
            city          = coalesce(excluded.city, b.city),
            postal_code   = coalesce(excluded.postal_code, b.postal_code),
            state         = coalesce(excluded.state, b.state),
            country_code  = coalesce(excluded.country_code, b.country_code),
            phone         = coalesce(excluded.phone, b.phone),
            website       = coalesce(excluded.website, b.website),
            category      = coalesce(excluded.category, b.category),
            rating        = coalesce(excluded.rating, b.rating),
            reviews_count = coalesce(excluded.reviews_count, b.reviews_count),
            latitude      = coalesce(excluded.latitude, b.latitude),
            longitude     = coalesce(excluded.longitude, b.longitude),
            facebook_url  = coalesce(b.facebook_url, excluded.facebook_url),
            linkedin_url  = coalesce(b.linkedin_url, excluded.linkedin_url),
            -- Google Maps is the lowest email source: it fills a gap or replaces its own kind.
            email = CASE WHEN excluded.email IS NOT NULL
                          AND (b.email IS NULL OR b.email_source = 'google_maps')
                         THEN excluded.email ELSE b.email END,
            email_source = CASE WHEN excluded.email IS NOT NULL
                                 AND (b.email IS NULL OR b.email_source = 'google_maps')
                                THEN 'google_maps' ELSE b.email_source END,
            email_verification_status = CASE WHEN excluded.email IS NOT NULL AND b.email_source = 'google_maps'
                                              AND excluded.email IS DISTINCT FROM b.email
                                             THEN NULL ELSE b.email_verification_status END,
            email_is_safe = CASE WHEN excluded.email IS NOT NULL AND b.email_source = 'google_maps'
                                  AND excluded.email IS DISTINCT FROM b.email
                                 THEN NULL ELSE b.email_is_safe END,
            raw_data      = excluded.raw_data,
            updated_at    = now()
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
      INTO v_inserted, v_updated
      FROM upserted;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'zip_code', p_zip_code,
        'inserted', v_inserted, 'updated', v_updated,
        'skipped', v_total - v_inserted - v_updated, 'total', v_total));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.insert_businesses_batch(uuid, varchar, jsonb)');

-- ---------------------------------------------------------------------------------------------
-- 3. update_campaign_statistics
-- ---------------------------------------------------------------------------------------------
-- Recomputes a campaign's totals from its rows and stores them on the campaign.
-- Guarantees: exact totals as of one snapshot (one statement reads businesses and coverage);
-- concurrent refreshes of one campaign are serialised by a transaction advisory lock taken
-- before the read, so a refresh never overwrites a newer one with older numbers. The campaign
-- row itself is locked only for the final short UPDATE, so cost tracking is not held up by the
-- scan. The scan is an index-only scan of gmaps_businesses_statistics_idx once the table is
-- vacuumed (autovacuum); recently written pages are read from the heap.
CREATE FUNCTION public.update_campaign_statistics(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
-- A pooled connection that served a big campaign must not reuse its generic plan for a small
-- one (measured: 37-50 ms instead of 1 ms); a custom plan per call costs 0.1-1.6 ms.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_stats record;
    v_campaign record;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    PERFORM pg_advisory_xact_lock(hashtext('leadledger.gmaps_campaign_statistics'), hashtext(p_campaign_id::text));

    SELECT b.total_businesses, b.total_emails, b.total_facebook_pages, b.total_linkedin_profiles,
           b.total_verified_emails, c.zips_total, c.zips_scraped, c.zips_failed
      INTO v_stats
      FROM (SELECT count(*)::integer AS total_businesses,
                   count(email)::integer AS total_emails,
                   count(facebook_url)::integer AS total_facebook_pages,
                   count(linkedin_url)::integer AS total_linkedin_profiles,
                   (count(*) FILTER (WHERE email_verification_status = 'deliverable'))::integer AS total_verified_emails
              FROM public.gmaps_businesses WHERE campaign_id = p_campaign_id) b,
           (SELECT count(*)::integer AS zips_total,
                   (count(*) FILTER (WHERE status = 'scraped'))::integer AS zips_scraped,
                   (count(*) FILTER (WHERE status = 'failed'))::integer AS zips_failed
              FROM public.gmaps_campaign_coverage WHERE campaign_id = p_campaign_id) c;

    UPDATE public.gmaps_campaigns SET
        total_businesses = v_stats.total_businesses,
        total_emails = v_stats.total_emails,
        total_facebook_pages = v_stats.total_facebook_pages,
        total_linkedin_profiles = v_stats.total_linkedin_profiles,
        total_verified_emails = v_stats.total_verified_emails,
        zips_scraped = v_stats.zips_scraped,
        statistics_updated_at = now(),
        updated_at = now()
     WHERE id = p_campaign_id
    RETURNING actual_cost, estimated_cost, statistics_updated_at INTO v_campaign;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id,
        'total_businesses', v_stats.total_businesses,
        'total_emails', v_stats.total_emails,
        'total_facebook_pages', v_stats.total_facebook_pages,
        'total_linkedin_profiles', v_stats.total_linkedin_profiles,
        'total_verified_emails', v_stats.total_verified_emails,
        'zips_total', v_stats.zips_total,
        'zips_scraped', v_stats.zips_scraped,
        'zips_failed', v_stats.zips_failed,
        'actual_cost', v_campaign.actual_cost,
        'estimated_cost', v_campaign.estimated_cost,
        'updated_at', v_campaign.statistics_updated_at));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_campaign_statistics(uuid)');

-- ---------------------------------------------------------------------------------------------
-- 4. track_campaign_cost
-- ---------------------------------------------------------------------------------------------
-- Records one API cost and adds it to the campaign's total.
-- Guarantees: no update is ever lost, however many callers at once: the total is one atomic
-- `UPDATE ... SET actual_cost = actual_cost + p_cost_usd RETURNING` (the row lock serialises
-- concurrent adds; each sees the previous committed total), and the cost row is inserted in the
-- same transaction, so sum(cost rows) = actual_cost always. The UPDATE runs first so that an
-- unknown campaign is found before any insert. An amount that is NaN (which would make the total
-- NaN for good), too large for numeric(14, 6), or that would take the total there, is rejected
-- as bad input (the UPDATE's own WHERE decides the last, so it is judged against the latest total).
CREATE FUNCTION public.track_campaign_cost(
    p_campaign_id uuid,
    p_service varchar,
    p_items_processed integer,
    p_cost_usd numeric,
    p_metadata jsonb DEFAULT NULL
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
    v_total numeric;
    v_cost_id uuid;
BEGIN
    IF p_campaign_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_campaign_id', 'is required');
    END IF;
    IF p_service IS NULL OR p_service NOT IN ('google_maps', 'facebook', 'linkedin', 'bouncer') THEN
        PERFORM leadledger.invalid_parameter('p_service', format(
            'must be one of google_maps, facebook, linkedin, bouncer, got %s', coalesce(quote_literal(p_service), 'nothing')));
    END IF;
    IF p_items_processed IS NULL OR p_items_processed < 0 THEN
        PERFORM leadledger.invalid_parameter('p_items_processed', format(
            'must be a non-negative integer, got %s', coalesce(p_items_processed::text, 'nothing')));
    END IF;
    PERFORM leadledger.gmaps_check_amount(p_cost_usd, 'p_cost_usd');
    IF p_metadata IS NOT NULL AND jsonb_typeof(p_metadata) NOT IN ('object', 'null') THEN
        PERFORM leadledger.invalid_parameter('p_metadata', 'must be a JSON object');
    END IF;

    UPDATE public.gmaps_campaigns
       SET actual_cost = actual_cost + p_cost_usd, updated_at = now()
     WHERE id = p_campaign_id
       AND round(actual_cost + p_cost_usd, 6) < 100000000
    RETURNING actual_cost INTO v_total;
    IF NOT FOUND THEN
        PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
        PERFORM leadledger.invalid_parameter('p_cost_usd', format(
            '%s would take the campaign total cost to 100000000 or more', p_cost_usd));
    END IF;

    INSERT INTO public.gmaps_api_costs (campaign_id, service, items_processed, cost_usd, metadata)
    VALUES (p_campaign_id, p_service, p_items_processed, p_cost_usd, nullif(p_metadata, 'null'::jsonb))
    RETURNING id INTO v_cost_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'cost_id', v_cost_id, 'campaign_id', p_campaign_id, 'service', p_service,
        'cost_usd', p_cost_usd, 'items_processed', p_items_processed, 'new_total', v_total));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb)');

-- ---------------------------------------------------------------------------------------------
-- 5. update_coverage_status
-- ---------------------------------------------------------------------------------------------
-- Marks one ZIP of a campaign scraped, with its results (a repeat call overwrites them).
-- Guarantees: one atomic UPDATE of the (campaign_id, zip_code) row (unique key); a ZIP that is
-- not part of the campaign, or an unknown campaign, is a 23503 error and writes nothing; a
-- negative, NaN or too large p_actual_cost is 22023.
CREATE FUNCTION public.update_coverage_status(
    p_campaign_id uuid,
    p_zip_code varchar,
    p_businesses_found integer,
    p_emails_found integer,
    p_actual_cost numeric
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
    v_row public.gmaps_campaign_coverage;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    IF p_zip_code IS NULL OR p_zip_code !~ '^[0-9]{5}$' THEN
        PERFORM leadledger.invalid_parameter('p_zip_code', format('must be 5 digits, got %s', coalesce(quote_literal(p_zip_code), 'nothing')));
    END IF;
    IF p_businesses_found IS NULL OR p_businesses_found < 0 THEN
        PERFORM leadledger.invalid_parameter('p_businesses_found', 'must be a non-negative integer');
    END IF;
    IF p_emails_found IS NULL OR p_emails_found < 0 THEN
        PERFORM leadledger.invalid_parameter('p_emails_found', 'must be a non-negative integer');
    END IF;
    PERFORM leadledger.gmaps_check_amount(p_actual_cost, 'p_actual_cost');

    UPDATE public.gmaps_campaign_coverage
       SET status = 'scraped', businesses_found = p_businesses_found, emails_found = p_emails_found,
           actual_cost = p_actual_cost, scraped_at = now(), updated_at = now()
     WHERE campaign_id = p_campaign_id AND zip_code = p_zip_code
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ZIP code % is not part of this campaign', p_zip_code
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('campaign %s', p_campaign_id);
    END IF;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'zip_code', p_zip_code, 'status', v_row.status,
        'businesses_found', v_row.businesses_found, 'emails_found', v_row.emails_found,
        'actual_cost', v_row.actual_cost, 'scraped_at', v_row.scraped_at));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_coverage_status(uuid, varchar, integer, integer, numeric)');

-- ---------------------------------------------------------------------------------------------
-- 6. Enrichment: update_enrichment_batch, save_facebook_enrichment, save_linkedin_enrichment
-- ---------------------------------------------------------------------------------------------

-- gmaps_to_uuid: the UUID in p_text, or NULL when it is not one (never raises).
CREATE FUNCTION leadledger.gmaps_to_uuid(p_text text)
RETURNS uuid
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN p_text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN p_text::uuid END
$$;

-- gmaps_enrichment_items: the items of an enrichment batch, normalised, each with its problem
-- ("field: what is wrong", or NULL when it can be applied). Facebook items: business_id,
-- campaign_id, facebook_url (or profile_url), page_name, primary_email, emails, phone_numbers,
-- status (enriched | not_found | failed), raw_data. LinkedIn items: linkedin_url (or
-- profile_url), company_name, company_size, industry, person_name, person_title (flat, or
-- nested in company{} and person{}), and the same email, phone, status and raw_data fields.
-- primary_email, when not given, is the first item of emails that is an email address.
-- Callers evaluate it once per call into an array of gmaps_enrichment_item (parsing and
-- validating the items is most of an enrichment call's time) and read that array afterwards.
CREATE TYPE leadledger.gmaps_enrichment_item AS (
    idx integer, business_id uuid, campaign_id uuid, problem text, status text, url text,
    page_name text, company_name text, company_size text, industry text, person_name text,
    person_title text, primary_email text, emails text[], phone_numbers text[], raw_data jsonb
);

CREATE FUNCTION leadledger.gmaps_enrichment_items(p_type text, p_items jsonb)
RETURNS SETOF leadledger.gmaps_enrichment_item
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH items AS (
        SELECT (i.o - 1)::integer AS idx, i.e,
               leadledger.gmaps_to_uuid(i.e ->> 'business_id') AS business_id,
               CASE
                   WHEN jsonb_typeof(i.e) <> 'object' THEN 'must be a JSON object'
                   WHEN NOT coalesce(leadledger.json_type_matches(i.e -> 'business_id', 'uuid'), false)
                       THEN 'business_id: is required and must be a UUID'
                   WHEN jsonb_typeof(i.e -> 'campaign_id') NOT IN ('null')
                        AND NOT leadledger.json_type_matches(i.e -> 'campaign_id', 'uuid')
                       THEN 'campaign_id: must be a UUID'
                   WHEN jsonb_typeof(coalesce(i.e -> (p_type || '_url'), i.e -> 'profile_url')) NOT IN ('string', 'null')
                       THEN p_type || '_url: must be a string'
                   WHEN jsonb_typeof(i.e -> 'primary_email') NOT IN ('null')
                        AND NOT leadledger.json_type_matches(i.e -> 'primary_email', 'email')
                       THEN 'primary_email: must be an email address'
                   WHEN jsonb_typeof(i.e -> 'emails') NOT IN ('null')
                        AND NOT leadledger.json_type_matches(i.e -> 'emails', 'string_array')
                       THEN 'emails: must be an array of strings'
                   WHEN jsonb_typeof(i.e -> 'phone_numbers') NOT IN ('null')
                        AND NOT leadledger.json_type_matches(i.e -> 'phone_numbers', 'string_array')
                       THEN 'phone_numbers: must be an array of strings'
                   WHEN coalesce(i.e ->> 'status', 'enriched') NOT IN ('enriched', 'not_found', 'failed')
                       THEN 'status: must be enriched, not_found or failed'
                   WHEN jsonb_typeof(i.e -> 'raw_data') NOT IN ('object', 'null') THEN 'raw_data: must be an object'
               END AS problem
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i(e, o)
    )
    SELECT it.idx, it.business_id, b.campaign_id,
           CASE
               WHEN it.problem IS NOT NULL THEN it.problem
               WHEN b.id IS NULL THEN 'business_id: business not found'
               WHEN jsonb_typeof(it.e -> 'campaign_id') = 'string'
                    AND (it.e ->> 'campaign_id')::uuid <> b.campaign_id
                   THEN 'campaign_id: the business belongs to another campaign'
               WHEN row_number() OVER (PARTITION BY b.id ORDER BY it.idx) > 1
                   THEN 'business_id: repeated in this batch'
           END,
           coalesce(it.e ->> 'status', 'enriched'),
           nullif(btrim(coalesce(it.e ->> (p_type || '_url'), it.e ->> 'profile_url')), ''),
           nullif(btrim(it.e ->> 'page_name'), ''),
           nullif(btrim(coalesce(it.e ->> 'company_name', it.e #>> '{company,name}')), ''),
           nullif(btrim(coalesce(it.e ->> 'company_size', it.e #>> '{company,size}')), ''),
           nullif(btrim(coalesce(it.e ->> 'industry', it.e #>> '{company,industry}')), ''),
           nullif(btrim(coalesce(it.e ->> 'person_name', it.e #>> '{person,name}')), ''),
           nullif(btrim(coalesce(it.e ->> 'person_title', it.e #>> '{person,title}')), ''),
           coalesce(lower(nullif(btrim(it.e ->> 'primary_email'), '')), leadledger.gmaps_first_email(it.e -> 'emails')),
           CASE WHEN jsonb_typeof(it.e -> 'emails') = 'array'
                THEN ARRAY(SELECT lower(x) FROM jsonb_array_elements_text(it.e -> 'emails') x) ELSE '{}' END,
           CASE WHEN jsonb_typeof(it.e -> 'phone_numbers') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(it.e -> 'phone_numbers')) ELSE '{}' END,
           CASE WHEN jsonb_typeof(it.e -> 'raw_data') = 'object' THEN it.e -> 'raw_data' ELSE it.e END
      FROM items it
      LEFT JOIN public.gmaps_businesses b ON b.id = it.business_id
$$;

-- gmaps_apply_enrichments: applies every valid item of a batch (p_items: gmaps_enrichment_items
-- evaluated once by the caller); returns {updated, failed, errors: [{index, business_id, reason}],
-- applied: [{index, business_id, email, email_source}]}. Runs inside the caller's transaction.
-- Guarantees: businesses are locked FOR UPDATE in (campaign_id, place_id) order, the order in
-- which insert_businesses_batch upserts them, before their enrichment rows are written (order
-- business -> enrichment), so concurrent batches and re-scrapes cannot deadlock on them and the
-- email decision reads the current row; the business email follows source priority
-- linkedin > facebook > google_maps (gmaps_email_rank): a source replaces the email only when
-- it ranks at least as high as the current one, so arrival order does not matter. When the
-- email changes, its verification status comes from the audit log when that email was verified
-- before, else it is cleared. A finished enrichment removes the business's lease of that type.
-- Only businesses the UPDATE found (and locked) get an enrichment row or lose their lease, so a
-- business deleted after the items were evaluated is skipped, never a foreign-key failure.
CREATE FUNCTION leadledger.gmaps_apply_enrichments(p_type text, p_items leadledger.gmaps_enrichment_item[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_errors jsonb;
    v_failed integer;
    v_applied jsonb;
    v_applied_ids uuid[];
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', idx, 'business_id', business_id, 'reason', problem)
                              ORDER BY idx), '[]'::jsonb),
           count(*)::integer
      INTO v_errors, v_failed
      FROM unnest(p_items) WHERE problem IS NOT NULL;

    -- (campaign_id, place_id): the order in which insert_businesses_batch's upsert locks them.
    PERFORM 1 FROM public.gmaps_businesses
     WHERE id IN (SELECT business_id FROM unnest(p_items) WHERE problem IS NULL)
     ORDER BY campaign_id, place_id
       FOR UPDATE;

    WITH items AS (
        SELECT v.*, b.email AS current_email,
               v.primary_email IS NOT NULL
                 AND (b.email IS NULL
                      OR leadledger.gmaps_email_rank(b.email_source) <= leadledger.gmaps_email_rank(p_type)) AS takes_email,
               known.status AS known_status, known.is_safe AS known_is_safe
          FROM unnest(p_items) v
          JOIN public.gmaps_businesses b ON b.id = v.business_id
          LEFT JOIN LATERAL (
              SELECT ev.status, ev.is_safe FROM public.gmaps_email_verifications ev
               WHERE ev.business_id = v.business_id AND ev.email = v.primary_email
               ORDER BY ev.verified_at DESC, ev.id LIMIT 1) known ON true
         WHERE v.problem IS NULL
    ), updated AS (
        UPDATE public.gmaps_businesses b SET
            facebook_url = CASE WHEN p_type = 'facebook' THEN coalesce(i.url, b.facebook_url) ELSE b.facebook_url END,
            linkedin_url = CASE WHEN p_type = 'linkedin' THEN coalesce(i.url, b.linkedin_url) ELSE b.linkedin_url END,
            facebook_enrichment_status = CASE WHEN p_type = 'facebook' THEN i.status ELSE b.facebook_enrichment_status END,
            linkedin_enrichment_status = CASE WHEN p_type = 'linkedin' THEN i.status ELSE b.linkedin_enrichment_status END,
            email = CASE WHEN i.takes_email THEN i.primary_email ELSE b.email END,
            email_source = CASE WHEN i.takes_email THEN p_type ELSE b.email_source END,
            email_verification_status = CASE WHEN i.takes_email AND i.primary_email IS DISTINCT FROM b.email
                                             THEN i.known_status ELSE b.email_verification_status END,
            email_is_safe = CASE WHEN i.takes_email AND i.primary_email IS DISTINCT FROM b.email
                                 THEN i.known_is_safe ELSE b.email_is_safe END,
            updated_at = now()
          FROM items i
         WHERE b.id = i.business_id
        RETURNING i.idx, b.id, b.email, b.email_source
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', idx, 'business_id', id, 'email', email,
                                                 'email_source', email_source) ORDER BY idx), '[]'::jsonb),
           coalesce(array_agg(id), '{}')
      INTO v_applied, v_applied_ids
      FROM updated;

    IF p_type = 'facebook' THEN
        INSERT INTO public.gmaps_facebook_enrichments AS f
            (business_id, campaign_id, status, facebook_url, page_name, primary_email, emails, phone_numbers,
             email_verification_status, raw_data)
        SELECT v.business_id, v.campaign_id, v.status, v.url, v.page_name, v.primary_email, v.emails,
               v.phone_numbers, known.status, v.raw_data
          FROM unnest(p_items) v
          LEFT JOIN LATERAL (
              SELECT ev.status FROM public.gmaps_email_verifications ev
               WHERE ev.business_id = v.business_id AND ev.email = v.primary_email
               ORDER BY ev.verified_at DESC, ev.id LIMIT 1) known ON true
         WHERE v.problem IS NULL AND v.business_id = ANY (v_applied_ids)
         ORDER BY v.business_id
        ON CONFLICT (business_id) DO UPDATE SET
            status = excluded.status, facebook_url = excluded.facebook_url, page_name = excluded.page_name,
            primary_email = excluded.primary_email, emails = excluded.emails,
            phone_numbers = excluded.phone_numbers, email_verification_status = excluded.email_verification_status,
            raw_data = excluded.raw_data, updated_at = now();
    ELSE
        INSERT INTO public.gmaps_linkedin_enrichments AS l
            (business_id, campaign_id, status, linkedin_url, company_name, company_size, industry, person_name,
             person_title, primary_email, emails, phone_numbers, email_verification_status, raw_data)
        SELECT v.business_id, v.campaign_id, v.status, v.url, v.company_name, v.company_size, v.industry,
               v.person_name, v.person_title, v.primary_email, v.emails, v.phone_numbers, known.status, v.raw_data
          FROM unnest(p_items) v
          LEFT JOIN LATERAL (
              SELECT ev.status FROM public.gmaps_email_verifications ev
               WHERE ev.business_id = v.business_id AND ev.email = v.primary_email
               ORDER BY ev.verified_at DESC, ev.id LIMIT 1) known ON true
         WHERE v.problem IS NULL AND v.business_id = ANY (v_applied_ids)
         ORDER BY v.business_id
        ON CONFLICT (business_id) DO UPDATE SET
            status = excluded.status, linkedin_url = excluded.linkedin_url, company_name = excluded.company_name,
            company_size = excluded.company_size, industry = excluded.industry, person_name = excluded.person_name,
            person_title = excluded.person_title, primary_email = excluded.primary_email, emails = excluded.emails,
            phone_numbers = excluded.phone_numbers, email_verification_status = excluded.email_verification_status,
            raw_data = excluded.raw_data, updated_at = now();
    END IF;

    DELETE FROM public.gmaps_enrichment_leases l
     WHERE l.enrichment_type = p_type
       AND l.business_id = ANY (v_applied_ids);

    RETURN jsonb_build_object('updated', jsonb_array_length(v_applied), 'failed', v_failed,
                              'errors', v_errors, 'applied', v_applied);
END
$$;

-- update_enrichment_batch: applies a batch of Facebook or LinkedIn enrichments.
-- Guarantees: every valid item is applied and every invalid one (unknown business, business of
-- another campaign, malformed field, repeated business) is counted in failed with its index and
-- reason; a database error rolls the whole batch back (the envelope then says so). Locking and
-- email priority: see leadledger.gmaps_apply_enrichments.
CREATE FUNCTION public.update_enrichment_batch(p_enrichment_type varchar, p_enrichments jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '60s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_result jsonb;
BEGIN
    PERFORM leadledger.gmaps_check_enrichment_type(p_enrichment_type);
    PERFORM leadledger.require_array(p_enrichments, 'p_enrichments', 10000);
    v_result := leadledger.gmaps_apply_enrichments(p_enrichment_type, ARRAY(
        SELECT v FROM leadledger.gmaps_enrichment_items(p_enrichment_type, p_enrichments) v));
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'enrichment_type', p_enrichment_type,
        'updated', v_result -> 'updated',
        'failed', v_result -> 'failed',
        'errors', v_result -> 'errors'));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_enrichment_batch(varchar, jsonb)');

-- gmaps_save_enrichment: one business's enrichment; an unknown business (or one of another
-- campaign) is 'Business not found' (23503), a malformed field 22023 naming p_enrichment.<field>.
CREATE FUNCTION leadledger.gmaps_save_enrichment(
    p_type text, p_business_id uuid, p_campaign_id uuid, p_enrichment jsonb
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_items leadledger.gmaps_enrichment_item[];
    v_problem text;
    v_result jsonb;
BEGIN
    IF p_business_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_business_id', 'is required');
    END IF;
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    IF p_enrichment IS NULL OR jsonb_typeof(p_enrichment) <> 'object' THEN
        PERFORM leadledger.invalid_parameter('p_enrichment', 'must be a JSON object');
    END IF;
    v_items := ARRAY(SELECT v FROM leadledger.gmaps_enrichment_items(p_type, jsonb_build_array(
        p_enrichment || jsonb_build_object('business_id', p_business_id, 'campaign_id', p_campaign_id))) v);
    v_problem := v_items[1].problem;
    IF v_problem LIKE 'business_id:%' OR v_problem LIKE 'campaign_id:%' THEN
        RAISE EXCEPTION 'Business not found'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('no business %s in campaign %s', p_business_id, p_campaign_id);
    ELSIF v_problem IS NOT NULL THEN
        PERFORM leadledger.invalid_parameter('p_enrichment.' || split_part(v_problem, ':', 1),
                                             btrim(substr(v_problem, position(':' IN v_problem) + 1)));
    END IF;
    v_result := leadledger.gmaps_apply_enrichments(p_type, v_items);
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'business_id', p_business_id, 'campaign_id', p_campaign_id, 'enrichment_type', p_type,
        'email', v_result #> '{applied,0,email}', 'email_source', v_result #> '{applied,0,email_source}'));
END
$$;

-- save_facebook_enrichment: one business's Facebook enrichment (see update_enrichment_batch).
CREATE FUNCTION public.save_facebook_enrichment(p_business_id uuid, p_campaign_id uuid, p_enrichment jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    RETURN leadledger.gmaps_save_enrichment('facebook', p_business_id, p_campaign_id, p_enrichment);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.save_facebook_enrichment(uuid, uuid, jsonb)');

-- save_linkedin_enrichment: one business's LinkedIn enrichment (see update_enrichment_batch).
CREATE FUNCTION public.save_linkedin_enrichment(p_business_id uuid, p_campaign_id uuid, p_enrichment jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    RETURN leadledger.gmaps_save_enrichment('linkedin', p_business_id, p_campaign_id, p_enrichment);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.save_linkedin_enrichment(uuid, uuid, jsonb)');

-- ---------------------------------------------------------------------------------------------
-- 7. update_email_verification
-- ---------------------------------------------------------------------------------------------
-- Records one verification of one business email and updates its status wherever that email
-- came from: the business (Google Maps or the best source), its Facebook enrichment, its
-- LinkedIn enrichment.
-- Guarantees: one audit row per call; the business row is locked first, then the enrichment
-- rows (business -> enrichment); every status UPDATE is guarded by IS DISTINCT FROM, so
-- replaying the same result changes nothing but the audit log. Accepts the seed's shape
-- ({status, is_safe, reason, score}) and a Bouncer API response as it is ({status, reason,
-- score, domain{disposable, free, acceptAll}, account{role, disabled, fullMailbox}, provider,
-- toxic, ...}); status valid/invalid/catch_all/accept_all are read as deliverable/undeliverable/
-- risky/risky. is_safe, when not given, is deliverable and not disposable, not disabled, not a
-- full mailbox and not toxic, each flag read as true when it is true or "yes" (Bouncer's
-- spelling) or "true". score, when given, is 0 to 100.
CREATE FUNCTION public.update_email_verification(p_business_id uuid, p_email varchar, p_verification_data jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_email text := lower(btrim(p_email));
    v_status text;
    v_is_safe boolean;
    v_business public.gmaps_businesses;
    v_sources text[] := '{}';
    v_verification_id uuid;
BEGIN
    IF p_business_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_business_id', 'is required');
    END IF;
    IF NOT coalesce(leadledger.json_type_matches(to_jsonb(v_email), 'email'), false) THEN
        PERFORM leadledger.invalid_parameter('p_email', format('must be an email address, got %s',
                                                               coalesce(quote_literal(p_email), 'nothing')));
    END IF;
    PERFORM leadledger.validate_object(p_verification_data, 'p_verification_data', '{
        "status": "string!", "is_safe": "boolean", "reason": "string", "score": "number",
        "domain": "object", "account": "object", "provider": "string"}');
    v_status := CASE lower(p_verification_data ->> 'status')
        WHEN 'deliverable' THEN 'deliverable' WHEN 'valid' THEN 'deliverable'
        WHEN 'risky' THEN 'risky' WHEN 'catch_all' THEN 'risky' WHEN 'accept_all' THEN 'risky'
        WHEN 'undeliverable' THEN 'undeliverable' WHEN 'invalid' THEN 'undeliverable'
        WHEN 'unknown' THEN 'unknown'
    END;
    IF v_status IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_verification_data.status', format(
            'must be deliverable, risky, undeliverable or unknown, got %s', quote_literal(p_verification_data ->> 'status')));
    END IF;
    IF (p_verification_data ->> 'score')::numeric NOT BETWEEN 0 AND 100 THEN
        PERFORM leadledger.invalid_parameter('p_verification_data.score', format(
            'must be between 0 and 100, got %s', p_verification_data ->> 'score'));
    END IF;
    -- Bouncer writes its flags as "yes"/"no" strings; JSON booleans are accepted too.
    v_is_safe := coalesce(
        (p_verification_data ->> 'is_safe')::boolean,
        v_status = 'deliverable'
            AND NOT coalesce(lower(p_verification_data #>> '{domain,disposable}') IN ('true', 'yes'), false)
            AND NOT coalesce(lower(p_verification_data #>> '{account,disabled}') IN ('true', 'yes'), false)
            AND NOT coalesce(lower(p_verification_data #>> '{account,fullMailbox}') IN ('true', 'yes'), false)
            AND NOT coalesce(lower(p_verification_data ->> 'toxic') IN ('true', 'yes', 'toxic'), false));

    SELECT * INTO v_business FROM public.gmaps_businesses WHERE id = p_business_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Business not found'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('no business with id %s', p_business_id);
    END IF;

    IF v_business.email = v_email THEN
        v_sources := v_sources || v_business.email_source;
        UPDATE public.gmaps_businesses
           SET email_verification_status = v_status, email_is_safe = v_is_safe, updated_at = now()
         WHERE id = p_business_id
           AND (email_verification_status, email_is_safe) IS DISTINCT FROM (v_status, v_is_safe);
    END IF;
    IF EXISTS (SELECT 1 FROM public.gmaps_facebook_enrichments
                WHERE business_id = p_business_id AND (primary_email = v_email OR v_email = ANY (emails))) THEN
        v_sources := v_sources || 'facebook'::text;
        UPDATE public.gmaps_facebook_enrichments
           SET email_verification_status = v_status, updated_at = now()
         WHERE business_id = p_business_id AND primary_email = v_email
           AND email_verification_status IS DISTINCT FROM v_status;
    END IF;
    IF EXISTS (SELECT 1 FROM public.gmaps_linkedin_enrichments
                WHERE business_id = p_business_id AND (primary_email = v_email OR v_email = ANY (emails))) THEN
        v_sources := v_sources || 'linkedin'::text;
        UPDATE public.gmaps_linkedin_enrichments
           SET email_verification_status = v_status, updated_at = now()
         WHERE business_id = p_business_id AND primary_email = v_email
           AND email_verification_status IS DISTINCT FROM v_status;
    END IF;
    v_sources := ARRAY(SELECT DISTINCT unnest(v_sources) ORDER BY 1);

    INSERT INTO public.gmaps_email_verifications
        (business_id, campaign_id, email, status, is_safe, reason, score, sources, provider, raw_response)
    VALUES (p_business_id, v_business.campaign_id, v_email, v_status, v_is_safe,
            p_verification_data ->> 'reason', (p_verification_data ->> 'score')::numeric, v_sources,
            p_verification_data ->> 'provider', p_verification_data)
    RETURNING id INTO v_verification_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'business_id', p_business_id, 'email', v_email, 'status', v_status, 'is_safe', v_is_safe,
        'sources', to_jsonb(v_sources), 'verification_id', v_verification_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_email_verification(uuid, varchar, jsonb)');

-- ---------------------------------------------------------------------------------------------
-- 8. get_businesses_for_enrichment (read) and claim_businesses_for_enrichment (lease)
-- ---------------------------------------------------------------------------------------------
-- get_businesses_for_enrichment: the businesses of a campaign still pending the given
-- enrichment, oldest first. A plain read with LIMIT/OFFSET (the seed's interface): fine for a
-- dashboard page, but two workers paging it will overlap; workers use claim_ below.
-- Served by gmaps_businesses_{facebook,linkedin}_pending_idx.
CREATE FUNCTION public.get_businesses_for_enrichment(
    p_campaign_id uuid,
    p_enrichment_type varchar,
    p_limit integer DEFAULT 100,
    p_offset integer DEFAULT 0
)
RETURNS TABLE (
    business_id uuid, campaign_id uuid, place_id text, name text, address text, city text, state text,
    postal_code text, phone text, website text, email text, email_source text, facebook_url text,
    linkedin_url text, category text, created_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    PERFORM leadledger.gmaps_check_enrichment_type(p_enrichment_type);
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 1000');
    END IF;
    IF p_offset IS NULL OR p_offset < 0 THEN
        PERFORM leadledger.invalid_parameter('p_offset', 'must not be negative');
    END IF;
    RETURN QUERY
        SELECT b.id, b.campaign_id, b.place_id, b.name, b.address, b.city, b.state, b.postal_code,
               b.phone, b.website, b.email, b.email_source, b.facebook_url, b.linkedin_url, b.category,
               b.created_at
          FROM public.gmaps_businesses b
         WHERE b.campaign_id = p_campaign_id
           AND CASE p_enrichment_type WHEN 'facebook' THEN b.facebook_enrichment_status
                                      ELSE b.linkedin_enrichment_status END = 'pending'
         ORDER BY b.created_at, b.id
         LIMIT p_limit OFFSET p_offset;
END
$$;
SELECT leadledger.secure_function('public.get_businesses_for_enrichment(uuid, varchar, integer, integer)');

-- claim_businesses_for_enrichment: hands up to p_limit pending businesses to one worker for
-- p_lease, returning them.
-- Guarantees: no business is held by two live leases. Candidates are read with
-- FOR UPDATE SKIP LOCKED (workers do not queue behind each other) and the lease is taken with
-- INSERT ... ON CONFLICT (business_id, enrichment_type) DO UPDATE ... WHERE expires_at < now():
-- ON CONFLICT re-checks against the latest committed lease, so a candidate that another worker
-- leased after this statement's snapshot is not handed out again. An expired lease (a crashed
-- worker) is taken over; saving the enrichment removes the lease. A candidate leased by a racing
-- worker after this statement's snapshot is skipped, so the claim statement is repeated (each
-- repeat a new snapshot) until it has p_limit businesses or no candidates are left, at most 5
-- passes: under heavy contention workers still get full claims.
CREATE FUNCTION public.claim_businesses_for_enrichment(
    p_campaign_id uuid,
    p_enrichment_type varchar,
    p_worker text,
    p_limit integer DEFAULT 100,
    p_lease interval DEFAULT '5 minutes'
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
    v_expires timestamptz := now() + p_lease;
    v_businesses jsonb;
    v_batch jsonb;
    v_pass integer;
    v_want integer;
    v_candidates bigint;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    PERFORM leadledger.gmaps_check_enrichment_type(p_enrichment_type);
    IF p_worker IS NULL OR btrim(p_worker) = '' THEN
        PERFORM leadledger.invalid_parameter('p_worker', 'is required');
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 1000');
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' OR p_lease > interval '1 day' THEN
        PERFORM leadledger.invalid_parameter('p_lease', 'must be more than 0 and at most 1 day');
    END IF;

    v_businesses := '[]'::jsonb;
    FOR v_pass IN 1..5 LOOP
        v_want := p_limit - jsonb_array_length(v_businesses);
        WITH candidates AS (
            SELECT b.id
              FROM public.gmaps_businesses b
             WHERE b.campaign_id = p_campaign_id
               AND CASE p_enrichment_type WHEN 'facebook' THEN b.facebook_enrichment_status
                                          ELSE b.linkedin_enrichment_status END = 'pending'
               AND NOT EXISTS (SELECT 1 FROM public.gmaps_enrichment_leases l
                                WHERE l.business_id = b.id AND l.enrichment_type = p_enrichment_type
                                  AND l.expires_at >= now())
             ORDER BY b.created_at, b.id
             LIMIT v_want
               FOR UPDATE OF b SKIP LOCKED
        ), leased AS (
            INSERT INTO public.gmaps_enrichment_leases AS l (business_id, enrichment_type, worker, expires_at)
            SELECT c.id, p_enrichment_type, p_worker, v_expires FROM candidates c ORDER BY c.id
            ON CONFLICT (business_id, enrichment_type) DO UPDATE
                SET worker = excluded.worker, expires_at = excluded.expires_at
              WHERE l.expires_at < now()
            RETURNING l.business_id
        )
        SELECT (SELECT count(*) FROM candidates),
               coalesce(jsonb_agg(leadledger.gmaps_business_brief(b) ORDER BY b.created_at, b.id),
                        '[]'::jsonb)
          INTO v_candidates, v_batch
          FROM public.gmaps_businesses b
         WHERE b.id IN (SELECT business_id FROM leased);
        v_businesses := v_businesses || v_batch;
        EXIT WHEN jsonb_array_length(v_businesses) >= p_limit OR v_candidates < v_want;
    END LOOP;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'enrichment_type', p_enrichment_type, 'worker', p_worker,
        'claimed', jsonb_array_length(v_businesses), 'lease_expires_at', v_expires,
        'businesses', v_businesses));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.claim_businesses_for_enrichment(uuid, varchar, text, integer, interval)');

-- ---------------------------------------------------------------------------------------------
-- 9. Campaign status
-- ---------------------------------------------------------------------------------------------
-- is_valid_status_transition: the campaign state machine. draft -> running | cancelled;
-- running -> paused | completed | failed | cancelled; paused -> running | failed | cancelled;
-- completed, failed and cancelled are final. Unknown states are never valid.
CREATE FUNCTION public.is_valid_status_transition(p_from varchar, p_to varchar)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((p_from, p_to) IN (
        ('draft', 'running'), ('draft', 'cancelled'),
        ('running', 'paused'), ('running', 'completed'), ('running', 'failed'), ('running', 'cancelled'),
        ('paused', 'running'), ('paused', 'failed'), ('paused', 'cancelled')), false)
$$;
SELECT leadledger.secure_function('public.is_valid_status_transition(varchar, varchar)');

-- transition_campaign_status: moves a campaign to a new status and records the transition.
-- Guarantees: the campaign row is locked FOR NO KEY UPDATE before its status is read, so of two
-- racing transitions the second reads the first's result and is judged against it: exactly
-- one of two conflicting transitions wins (the loser gets P0001 naming both states). Every
-- transition appends to gmaps_campaign_status_history with its time and reason.
CREATE FUNCTION public.transition_campaign_status(p_campaign_id uuid, p_new_status varchar, p_reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_from text;
    v_at timestamptz := clock_timestamp();
BEGIN
    IF p_campaign_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_campaign_id', 'is required');
    END IF;
    IF p_new_status IS NULL
       OR p_new_status NOT IN ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled') THEN
        PERFORM leadledger.invalid_parameter('p_new_status', format(
            'must be one of draft, running, paused, completed, failed, cancelled, got %s',
            coalesce(quote_literal(p_new_status), 'nothing')));
    END IF;

    -- NO KEY: the status is not a key, so batches inserting businesses of this campaign (their
    -- foreign keys hold FOR KEY SHARE on it) neither block the transition nor wait for it.
    SELECT status INTO v_from FROM public.gmaps_campaigns WHERE id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Campaign not found'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('no campaign with id %s', p_campaign_id);
    END IF;
    IF NOT public.is_valid_status_transition(v_from, p_new_status) THEN
        RAISE EXCEPTION 'Invalid status transition from % to %', v_from, p_new_status
            USING ERRCODE = 'raise_exception',
                  HINT = coalesce(
                      'allowed from ' || v_from || ': ' || (
                          SELECT string_agg(s, ', ' ORDER BY o)
                            FROM unnest(ARRAY['draft', 'running', 'paused', 'completed', 'failed', 'cancelled'])
                                 WITH ORDINALITY AS t(s, o)
                           WHERE public.is_valid_status_transition(v_from, s)),
                      v_from || ' is a final status');
    END IF;

    UPDATE public.gmaps_campaigns SET
        status = p_new_status,
        status_reason = p_reason,
        status_changed_at = v_at,
        started_at = CASE WHEN p_new_status = 'running' THEN coalesce(started_at, v_at) ELSE started_at END,
        completed_at = CASE WHEN p_new_status IN ('completed', 'failed', 'cancelled') THEN v_at ELSE completed_at END,
        updated_at = v_at
     WHERE id = p_campaign_id;
    INSERT INTO public.gmaps_campaign_status_history (campaign_id, from_status, to_status, reason, changed_at)
    VALUES (p_campaign_id, v_from, p_new_status, p_reason, v_at);

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'from_status', v_from, 'to_status', p_new_status,
        'reason', p_reason, 'changed_at', v_at));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.transition_campaign_status(uuid, varchar, text)');

-- ---------------------------------------------------------------------------------------------
-- 10. Reads for the API and CLI: get_campaign_overview, list_campaigns
-- ---------------------------------------------------------------------------------------------
-- get_campaign_overview: one campaign with its stored statistics, coverage progress (counted
-- live from the coverage rows), costs by service and status history, as one envelope;
-- 'Campaign not found' (23503) otherwise. Read-only.
CREATE FUNCTION public.get_campaign_overview(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_campaign public.gmaps_campaigns;
    v_coverage jsonb;
    v_costs jsonb;
    v_history jsonb;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id);
    SELECT * INTO v_campaign FROM public.gmaps_campaigns WHERE id = p_campaign_id;

    SELECT jsonb_build_object(
               'zips_total', count(*),
               'zips_scraped', count(*) FILTER (WHERE status = 'scraped'),
               'zips_failed', count(*) FILTER (WHERE status = 'failed'),
               'zips_pending', count(*) FILTER (WHERE status = 'pending'),
               'percent_complete', CASE WHEN count(*) = 0 THEN 0
                                        ELSE round(100.0 * count(*) FILTER (WHERE status <> 'pending') / count(*), 1) END,
               'businesses_found', coalesce(sum(businesses_found), 0),
               'emails_found', coalesce(sum(emails_found), 0))
      INTO v_coverage
      FROM public.gmaps_campaign_coverage WHERE campaign_id = p_campaign_id;

    SELECT coalesce(jsonb_object_agg(service, jsonb_build_object(
               'calls', calls, 'items_processed', items, 'cost_usd', cost)), '{}'::jsonb)
      INTO v_costs
      FROM (SELECT service, count(*) AS calls, sum(items_processed) AS items, sum(cost_usd) AS cost
              FROM public.gmaps_api_costs WHERE campaign_id = p_campaign_id GROUP BY service) s;

    SELECT coalesce(jsonb_agg(jsonb_build_object('from_status', from_status, 'to_status', to_status,
                                                 'reason', reason, 'changed_at', changed_at)
                              ORDER BY changed_at, id), '[]'::jsonb)
      INTO v_history
      FROM public.gmaps_campaign_status_history WHERE campaign_id = p_campaign_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign', to_jsonb(v_campaign) - ARRAY['total_businesses', 'total_emails', 'total_facebook_pages',
                                                 'total_linkedin_profiles', 'total_verified_emails',
                                                 'zips_scraped', 'statistics_updated_at'],
        'statistics', jsonb_build_object(
            'total_businesses', v_campaign.total_businesses, 'total_emails', v_campaign.total_emails,
            'total_facebook_pages', v_campaign.total_facebook_pages,
            'total_linkedin_profiles', v_campaign.total_linkedin_profiles,
            'total_verified_emails', v_campaign.total_verified_emails,
            'updated_at', v_campaign.statistics_updated_at),
        'coverage', v_coverage,
        'costs_by_service', v_costs,
        'status_history', v_history));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.get_campaign_overview(uuid)');

-- list_campaigns: campaigns newest first, with keyset pagination: pass the created_at and id of
-- the last row of a page as p_before_created_at / p_before_id for the next page (stable under
-- concurrent inserts, unlike OFFSET). Served by gmaps_campaigns_created_idx.
CREATE FUNCTION public.list_campaigns(
    p_limit integer DEFAULT 50,
    p_before_created_at timestamptz DEFAULT NULL,
    p_before_id uuid DEFAULT NULL,
    p_status varchar DEFAULT NULL
)
RETURNS TABLE (
    id uuid, name text, status text, location text, target_zip_count integer, zips_scraped integer,
    total_businesses integer, total_emails integer, estimated_cost numeric, actual_cost numeric,
    created_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 500 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 500');
    END IF;
    IF (p_before_created_at IS NULL) <> (p_before_id IS NULL) THEN
        PERFORM leadledger.invalid_parameter('p_before_id', 'p_before_created_at and p_before_id go together');
    END IF;
    IF p_status IS NOT NULL
       AND p_status NOT IN ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled') THEN
        PERFORM leadledger.invalid_parameter('p_status', format('unknown status %s', quote_literal(p_status)));
    END IF;
    RETURN QUERY
        SELECT c.id, c.name, c.status, c.location, c.target_zip_count, c.zips_scraped, c.total_businesses,
               c.total_emails, c.estimated_cost, c.actual_cost, c.created_at
          FROM public.gmaps_campaigns c
         WHERE (p_before_created_at IS NULL OR (c.created_at, c.id) < (p_before_created_at, p_before_id))
           AND (p_status IS NULL OR c.status = p_status)
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT p_limit;
END
$$;
SELECT leadledger.secure_function('public.list_campaigns(integer, timestamptz, uuid, varchar)');
