-- Campaign pipeline, current state: 8. get_businesses_for_enrichment (read) and claim_businesses_for_enrichment (lease).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 8. get_businesses_for_enrichment (read) and claim_businesses_for_enrichment (lease)
-- ---------------------------------------------------------------------------------------------
-- get_businesses_for_enrichment: the businesses of a campaign still pending the given
-- enrichment, oldest first. A plain read with LIMIT/OFFSET (the seed's interface): fine for a
-- dashboard page, but two workers paging it will overlap; workers use claim_ below.
-- Columns: the document's (000 §1.8) in its order — enrichment_status, enrichment_attempts and
-- needs_enrichment are those of the asked-for type (needs_enrichment: still pending) — then
-- email_source, category and created_at. Served by gmaps_businesses_{facebook,linkedin}_pending_idx.
-- Guarantees: confined by leadledger.org_scope(p_organization_id), called first: a campaign of
-- another organization is 'Campaign not found' (raised: this returns rows), so its businesses are
-- never read.
CREATE OR REPLACE FUNCTION public.get_businesses_for_enrichment(
    p_campaign_id uuid,
    p_enrichment_type varchar,
    p_limit integer DEFAULT 100,
    p_offset integer DEFAULT 0,
    p_organization_id uuid DEFAULT NULL
)
RETURNS TABLE (
    business_id uuid, campaign_id uuid, place_id text, name text, address text, city text, state text,
    postal_code text, phone text, website text, email text, facebook_url text, linkedin_url text,
    enrichment_status text, enrichment_attempts integer, needs_enrichment boolean,
    email_source text, category text, created_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id, leadledger.org_scope(p_organization_id));
    PERFORM leadledger.gmaps_check_enrichment_type(p_enrichment_type);
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 1000');
    END IF;
    IF p_offset IS NULL OR p_offset < 0 THEN
        PERFORM leadledger.invalid_parameter('p_offset', 'must not be negative');
    END IF;
    RETURN QUERY
        SELECT b.id, b.campaign_id, b.place_id, b.name, b.address, b.city, b.state, b.postal_code,
               b.phone, b.website, b.email, b.facebook_url, b.linkedin_url,
               CASE p_enrichment_type WHEN 'facebook' THEN b.facebook_enrichment_status
                                      ELSE b.linkedin_enrichment_status END,
               CASE p_enrichment_type WHEN 'facebook' THEN b.facebook_enrichment_attempts
                                      ELSE b.linkedin_enrichment_attempts END,
               true, b.email_source, b.category, b.created_at
          FROM public.gmaps_businesses b
         WHERE b.campaign_id = p_campaign_id
           AND CASE p_enrichment_type WHEN 'facebook' THEN b.facebook_enrichment_status
                                      ELSE b.linkedin_enrichment_status END = 'pending'
         ORDER BY b.created_at, b.id
         LIMIT p_limit OFFSET p_offset;
END
$$;
SELECT leadledger.secure_function('public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)', true);

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
-- passes: under heavy contention workers still get full claims. Each business handed out counts
-- one enrichment attempt (<type>_enrichment_attempts), so a claim that expires unsaved shows.
-- Confined by leadledger.org_scope(p_organization_id), called first: a campaign of another
-- organization is 'Campaign not found' and nothing is leased; a lease takes its business's
-- organization_id.
CREATE OR REPLACE FUNCTION public.claim_businesses_for_enrichment(
    p_campaign_id uuid,
    p_enrichment_type varchar,
    p_worker text,
    p_limit integer DEFAULT 100,
    p_lease interval DEFAULT '5 minutes',
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
    v_expires timestamptz;
    v_businesses jsonb;
    v_batch jsonb;
    v_pass integer;
    v_want integer;
    v_candidates bigint;
BEGIN
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id, leadledger.org_scope(p_organization_id));
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
    -- Computed here, after the check, inside the exception block: a lease of a million years
    -- would overflow (22008) and must come back as the envelope like every other error.
    v_expires := now() + p_lease;

    v_businesses := '[]'::jsonb;
    FOR v_pass IN 1..5 LOOP
        v_want := p_limit - jsonb_array_length(v_businesses);
        WITH candidates AS (
            SELECT b.id, b.organization_id
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
            INSERT INTO public.gmaps_enrichment_leases AS l
                (business_id, organization_id, enrichment_type, worker, expires_at)
            SELECT c.id, c.organization_id, p_enrichment_type, p_worker, v_expires FROM candidates c ORDER BY c.id
            ON CONFLICT (business_id, enrichment_type) DO UPDATE
                SET worker = excluded.worker, expires_at = excluded.expires_at
              WHERE l.expires_at < now()
            RETURNING l.business_id
        ), counted AS (
            -- Each claim handed out is one enrichment attempt of its business.
            UPDATE public.gmaps_businesses b SET
                facebook_enrichment_attempts = b.facebook_enrichment_attempts
                    + CASE WHEN p_enrichment_type = 'facebook' THEN 1 ELSE 0 END,
                linkedin_enrichment_attempts = b.linkedin_enrichment_attempts
                    + CASE WHEN p_enrichment_type = 'linkedin' THEN 1 ELSE 0 END
              FROM leased
             WHERE b.id = leased.business_id
            RETURNING b
        )
        SELECT (SELECT count(*) FROM candidates),
               coalesce(jsonb_agg(leadledger.gmaps_business_brief(c.b) ORDER BY (c.b).created_at, (c.b).id),
                        '[]'::jsonb)
          INTO v_candidates, v_batch
          FROM counted c;
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
SELECT leadledger.secure_function('public.claim_businesses_for_enrichment(uuid, varchar, text, integer, interval, uuid)', true);
