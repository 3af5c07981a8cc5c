-- Campaign pipeline, current state: 6. Enrichment: update_enrichment_batch, save_facebook_enrichment, save_linkedin_enrichment.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 6. Enrichment: update_enrichment_batch, save_facebook_enrichment, save_linkedin_enrichment
-- ---------------------------------------------------------------------------------------------

-- gmaps_enrichment_items: the items of an enrichment batch, normalised, each with its problem
-- ("field: what is wrong", or NULL when it can be applied). Facebook items: business_id,
-- campaign_id, facebook_url (or profile_url), page_name, primary_email, emails, phone_numbers,
-- status (enriched | not_found | failed), raw_data. LinkedIn items: linkedin_url (or
-- profile_url), company_name, company_size, industry, person_name, person_title (flat, or
-- nested in company{} and person{}), and the same email, phone, status and raw_data fields.
-- primary_email, when not given, is the first item of emails that is an email address.
-- Callers evaluate it once per call into an array of gmaps_enrichment_item (parsing and
-- validating the items is most of an enrichment call's time) and read that array afterwards.
-- Only businesses of p_organization_id are found (NULL: the service across organizations): a
-- business of another organization is 'business_id: business not found', like a missing one.
CREATE OR REPLACE FUNCTION leadledger.gmaps_enrichment_items(p_type text, p_items jsonb, p_organization_id uuid)
RETURNS SETOF leadledger.gmaps_enrichment_item
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH items AS (
        SELECT (i.o - 1)::integer AS idx, i.e,
               leadledger.uuid_or_null(i.e ->> 'business_id') AS business_id,
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
    ), checked AS (
        SELECT it.*, b.id AS found_id, b.campaign_id AS business_campaign_id,
               CASE
                   WHEN it.problem IS NOT NULL THEN it.problem
                   WHEN b.id IS NULL THEN 'business_id: business not found'
                   WHEN jsonb_typeof(it.e -> 'campaign_id') = 'string'
                        AND (it.e ->> 'campaign_id')::uuid <> b.campaign_id
                       THEN 'campaign_id: the business belongs to another campaign'
               END AS item_problem
          FROM items it
          LEFT JOIN public.gmaps_businesses b
                 ON b.id = it.business_id AND (p_organization_id IS NULL OR b.organization_id = p_organization_id)
    )
    SELECT it.idx, it.business_id, it.business_campaign_id,
           CASE
               WHEN it.item_problem IS NOT NULL THEN it.item_problem
               -- Only valid items count as repeats: a malformed item naming a business does not
               -- make the valid item for that business fail.
               WHEN row_number() OVER (PARTITION BY it.found_id, it.item_problem IS NULL ORDER BY it.idx) > 1
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
      FROM checked it
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
-- before, else it is cleared. A finished enrichment removes the business's lease of that type
-- (after the business lock: business -> lease, the claim's order). Every saved result counts as
-- an enrichment attempt (<type>_enrichment_attempts) unless it was saved under a live claim,
-- which counted it when it was made. Only businesses the UPDATE found (and locked) get an
-- enrichment row, so a business deleted after the items were evaluated is skipped, never a
-- foreign-key failure; the enrichment row takes the organization_id of that locked business.
CREATE OR REPLACE FUNCTION leadledger.gmaps_apply_enrichments(p_type text, p_items leadledger.gmaps_enrichment_item[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_errors jsonb;
    v_failed integer;
    v_applied jsonb;
    v_applied_ids uuid[];
    v_claimed uuid[];
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

    WITH gone AS (
        DELETE FROM public.gmaps_enrichment_leases l
         WHERE l.enrichment_type = p_type
           AND l.business_id IN (SELECT business_id FROM unnest(p_items) WHERE problem IS NULL)
        RETURNING l.business_id, l.expires_at >= now() AS live
    )
    SELECT coalesce(array_agg(business_id) FILTER (WHERE live), '{}') INTO v_claimed FROM gone;

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
            facebook_enrichment_attempts = b.facebook_enrichment_attempts
                + CASE WHEN p_type = 'facebook' AND b.id <> ALL (v_claimed) THEN 1 ELSE 0 END,
            linkedin_enrichment_attempts = b.linkedin_enrichment_attempts
                + CASE WHEN p_type = 'linkedin' AND b.id <> ALL (v_claimed) THEN 1 ELSE 0 END,
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
            (business_id, campaign_id, organization_id, status, facebook_url, page_name, primary_email, emails,
             phone_numbers, email_verification_status, raw_data)
        SELECT v.business_id, v.campaign_id, b.organization_id, v.status, v.url, v.page_name, v.primary_email,
               v.emails, v.phone_numbers, known.status, v.raw_data
          FROM unnest(p_items) v
          JOIN public.gmaps_businesses b ON b.id = v.business_id
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
            (business_id, campaign_id, organization_id, status, linkedin_url, company_name, company_size, industry,
             person_name, person_title, primary_email, emails, phone_numbers, email_verification_status, raw_data)
        SELECT v.business_id, v.campaign_id, b.organization_id, v.status, v.url, v.company_name, v.company_size,
               v.industry, v.person_name, v.person_title, v.primary_email, v.emails, v.phone_numbers, known.status,
               v.raw_data
          FROM unnest(p_items) v
          JOIN public.gmaps_businesses b ON b.id = v.business_id
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

    RETURN jsonb_build_object('updated', jsonb_array_length(v_applied), 'failed', v_failed,
                              'errors', v_errors, 'applied', v_applied);
END
$$;

-- update_enrichment_batch: applies a batch of Facebook or LinkedIn enrichments.
-- Guarantees: every valid item is applied and every invalid one (unknown business, business of
-- another campaign, malformed field, repeated business) is counted in failed with its index and
-- reason; a database error rolls the whole batch back (the envelope then says so). Locking and
-- email priority: see leadledger.gmaps_apply_enrichments.
-- Confined by leadledger.org_scope(p_organization_id), called first: only businesses of that
-- organization are found, so an item naming another organization's business fails as 'business_id:
-- business not found' (counted, not applied) and nothing of that business is written.
CREATE OR REPLACE FUNCTION public.update_enrichment_batch(
    p_enrichment_type varchar,
    p_enrichments jsonb,
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
    v_result jsonb;
    v_organization uuid;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    PERFORM leadledger.gmaps_check_enrichment_type(p_enrichment_type);
    PERFORM leadledger.require_array(p_enrichments, 'p_enrichments', 10000);
    v_result := leadledger.gmaps_apply_enrichments(p_enrichment_type, ARRAY(
        SELECT v FROM leadledger.gmaps_enrichment_items(p_enrichment_type, p_enrichments, v_organization) v));
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
SELECT leadledger.secure_function('public.update_enrichment_batch(varchar, jsonb, uuid)', true);

-- gmaps_save_enrichment: one business's enrichment within p_organization_id (org_scope's
-- answer; NULL: any); an unknown campaign is 'Campaign not found', an unknown business (or one
-- of another campaign or organization) 'Business not found' (23503), a malformed field 22023
-- naming p_enrichment.<field>.
CREATE OR REPLACE FUNCTION leadledger.gmaps_save_enrichment(
    p_type text, p_business_id uuid, p_campaign_id uuid, p_enrichment jsonb, p_organization_id uuid
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
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id, p_organization_id);
    IF p_enrichment IS NULL OR jsonb_typeof(p_enrichment) <> 'object' THEN
        PERFORM leadledger.invalid_parameter('p_enrichment', 'must be a JSON object');
    END IF;
    v_items := ARRAY(SELECT v FROM leadledger.gmaps_enrichment_items(p_type, jsonb_build_array(
        p_enrichment || jsonb_build_object('business_id', p_business_id, 'campaign_id', p_campaign_id)),
        p_organization_id) v);
    v_problem := v_items[1].problem;
    IF v_problem LIKE 'business_id:%' OR v_problem LIKE 'campaign_id:%' THEN
        PERFORM leadledger.raise_error('23503', 'Business not found',
                                       format('no business %s in campaign %s', p_business_id, p_campaign_id));
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

-- save_facebook_enrichment: one business's Facebook enrichment.
-- Guarantees: those of update_enrichment_batch for one item (gmaps_apply_enrichments: business
-- locked first, email priority, lease released); an unknown business or one of another campaign
-- is 'Business not found' (23503), a malformed field 22023 naming p_enrichment.<field>.
-- Confined by leadledger.org_scope(p_organization_id), called first: a campaign of another
-- organization is 'Campaign not found', a business of another organization 'Business not found',
-- nothing written.
CREATE OR REPLACE FUNCTION public.save_facebook_enrichment(
    p_business_id uuid,
    p_campaign_id uuid,
    p_enrichment jsonb,
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
BEGIN
    RETURN leadledger.gmaps_save_enrichment('facebook', p_business_id, p_campaign_id, p_enrichment,
                                            leadledger.org_scope(p_organization_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.save_facebook_enrichment(uuid, uuid, jsonb, uuid)', true);

-- save_linkedin_enrichment: one business's LinkedIn enrichment.
-- Guarantees: those of save_facebook_enrichment, for LinkedIn (tenancy included).
CREATE OR REPLACE FUNCTION public.save_linkedin_enrichment(
    p_business_id uuid,
    p_campaign_id uuid,
    p_enrichment jsonb,
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
BEGIN
    RETURN leadledger.gmaps_save_enrichment('linkedin', p_business_id, p_campaign_id, p_enrichment,
                                            leadledger.org_scope(p_organization_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.save_linkedin_enrichment(uuid, uuid, jsonb, uuid)', true);
