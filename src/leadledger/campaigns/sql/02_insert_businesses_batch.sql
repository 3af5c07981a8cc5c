-- Campaign pipeline, current state: 2. insert_businesses_batch.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 2. insert_businesses_batch
-- ---------------------------------------------------------------------------------------------
-- insert_businesses_batch: upserts a batch of Google Maps results into one campaign in one set-based
-- statement.
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
-- A place already stored is `updated` only when the upsert changes something (the DO UPDATE's
-- WHERE compares the row with what it would become), else `unchanged`, and then it is not
-- rewritten at all. total = inserted + updated + unchanged + skipped. When a re-scrape changes a
-- Google Maps email, its verification status comes back from the audit log if that email was
-- verified before, as enrichments do; otherwise it is cleared.
-- Confined by leadledger.org_scope(p_organization_id), called first: the campaign must be of that
-- organization ('Campaign not found' otherwise, nothing written), and new businesses take the
-- campaign's organization_id.
CREATE OR REPLACE FUNCTION public.insert_businesses_batch(
    p_campaign_id uuid,
    p_zip_code varchar,
    p_businesses jsonb,
    p_organization_id uuid DEFAULT NULL
)
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
    v_places integer;
    v_organization uuid;
BEGIN
    v_organization := leadledger.gmaps_assert_campaign(p_campaign_id, leadledger.org_scope(p_organization_id));
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
            (campaign_id, organization_id, place_id, zip_code, name, address, street, city, postal_code, state,
             country_code, phone, website, category, rating, reviews_count, latitude, longitude,
             email, email_source, facebook_url, linkedin_url, raw_data)
        SELECT p_campaign_id, v_organization, r.place_id,
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
            -- A new email's status: the latest verification of that address, else none.
            email_verification_status = CASE
                WHEN excluded.email IS NOT NULL AND (b.email IS NULL OR b.email_source = 'google_maps')
                     AND excluded.email IS DISTINCT FROM b.email
                THEN (SELECT ev.status FROM public.gmaps_email_verifications ev
                       WHERE ev.business_id = b.id AND ev.email = excluded.email
                       ORDER BY ev.verified_at DESC, ev.id LIMIT 1)
                ELSE b.email_verification_status END,
            email_is_safe = CASE
                WHEN excluded.email IS NOT NULL AND (b.email IS NULL OR b.email_source = 'google_maps')
                     AND excluded.email IS DISTINCT FROM b.email
                THEN (SELECT ev.is_safe FROM public.gmaps_email_verifications ev
                       WHERE ev.business_id = b.id AND ev.email = excluded.email
                       ORDER BY ev.verified_at DESC, ev.id LIMIT 1)
                ELSE b.email_is_safe END,
            raw_data      = excluded.raw_data,
            updated_at    = now()
          -- Only when something changes: an identical re-scrape is `unchanged` and not rewritten.
          WHERE ROW(coalesce(excluded.name, b.name), coalesce(excluded.address, b.address),
                    coalesce(excluded.street, b.street), coalesce(excluded.city, b.city),
                    coalesce(excluded.postal_code, b.postal_code), coalesce(excluded.state, b.state),
                    coalesce(excluded.country_code, b.country_code), coalesce(excluded.phone, b.phone),
                    coalesce(excluded.website, b.website), coalesce(excluded.category, b.category),
                    coalesce(excluded.rating, b.rating), coalesce(excluded.reviews_count, b.reviews_count),
                    coalesce(excluded.latitude, b.latitude), coalesce(excluded.longitude, b.longitude),
                    coalesce(b.facebook_url, excluded.facebook_url), coalesce(b.linkedin_url, excluded.linkedin_url),
                    excluded.raw_data)
                IS DISTINCT FROM
                ROW(b.name, b.address, b.street, b.city, b.postal_code, b.state, b.country_code, b.phone,
                    b.website, b.category, b.rating, b.reviews_count, b.latitude, b.longitude,
                    b.facebook_url, b.linkedin_url, b.raw_data)
             OR (excluded.email IS NOT NULL AND (b.email IS NULL OR b.email_source = 'google_maps')
                 AND excluded.email IS DISTINCT FROM b.email)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
           (SELECT count(*) FROM rows)
      INTO v_inserted, v_updated, v_places
      FROM upserted;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'zip_code', p_zip_code,
        'inserted', v_inserted, 'updated', v_updated,
        'unchanged', v_places - v_inserted - v_updated, 'skipped', v_total - v_places, 'total', v_total));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.insert_businesses_batch(uuid, varchar, jsonb, uuid)', true);
