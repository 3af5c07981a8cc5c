-- Campaign pipeline, current state: Helpers (schema leadledger, not exposed).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.
--
-- Tenancy (docs/decisions.md D45-D47): every public function of the domain takes
-- p_organization_id (last, DEFAULT NULL) and calls leadledger.org_scope(p_organization_id) first,
-- inside its exception block: the service may act in any organization, or across all of them
-- with NULL; an end user (Supabase's authenticated role with JWT claims) only in the
-- organization of his claims, and anyone else is refused (42501). Every read and write is then
-- confined to that organization: a campaign, business or ZIP of another organization reads
-- exactly like a missing one and nothing is written. Rows under a campaign carry its
-- organization_id, set from the parent the function locked or checked.

-- ---------------------------------------------------------------------------------------------
-- Helpers (schema leadledger, not exposed)
-- ---------------------------------------------------------------------------------------------

-- gmaps_email_rank: the priority of an email source; a lower rank never replaces a higher one.
CREATE OR REPLACE FUNCTION leadledger.gmaps_email_rank(p_source text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_source WHEN 'linkedin' THEN 3 WHEN 'facebook' THEN 2 WHEN 'google_maps' THEN 1 ELSE 0 END
$$;

-- gmaps_assert_campaign: the organization of campaign p_campaign_id, when it is one of
-- p_organization_id's (the organization leadledger.org_scope confined the call to; NULL: the
-- service across organizations, any campaign). 22023 when p_campaign_id is missing, 'Campaign
-- not found' (23503) when there is no such campaign in that organization: another
-- organization's campaign reads exactly like a missing one. Takes no lock.
CREATE OR REPLACE FUNCTION leadledger.gmaps_assert_campaign(p_campaign_id uuid, p_organization_id uuid)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid;
BEGIN
    IF p_campaign_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_campaign_id', 'is required');
    END IF;
    SELECT c.organization_id INTO v_organization
      FROM public.gmaps_campaigns c
     WHERE c.id = p_campaign_id AND (p_organization_id IS NULL OR c.organization_id = p_organization_id);
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'Campaign not found', format('no campaign with id %s', p_campaign_id));
    END IF;
    RETURN v_organization;
END
$$;

-- gmaps_check_enrichment_type: 22023 unless p_type is facebook or linkedin.
CREATE OR REPLACE FUNCTION leadledger.gmaps_check_enrichment_type(p_type text, p_field text DEFAULT 'p_enrichment_type')
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
-- number and would poison a running total), not negative, below 10^8, and with at most 6 decimal
-- places: the columns keep 6, and an amount they would round is refused rather than stored as an
-- amount the caller did not send (an overflow or a rounding is bad input naming the field, not
-- a bare 22003 or a silent change).
CREATE OR REPLACE FUNCTION leadledger.gmaps_check_amount(p_amount numeric, p_field text)
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
    IF p_amount >= 100000000 THEN
        PERFORM leadledger.invalid_parameter(p_field, format('must be less than 100000000, got %s', p_amount));
    END IF;
    IF round(p_amount, 6) <> p_amount THEN
        PERFORM leadledger.invalid_parameter(p_field, format('must have at most 6 decimal places, got %s', p_amount));
    END IF;
END
$$;

-- gmaps_first_email: the first item of a JSON array of strings that is an email address
-- (trimmed, lower case), NULL when there is none or p_list is not an array. Scraped lists carry
-- junk ("info at example dot com"); the best email of a business must be one that can be verified.
CREATE OR REPLACE FUNCTION leadledger.gmaps_first_email(p_list jsonb)
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
CREATE OR REPLACE FUNCTION leadledger.gmaps_business_brief(p_business public.gmaps_businesses)
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
