-- Campaign pipeline, current state: 7. update_email_verification.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 7. update_email_verification
-- ---------------------------------------------------------------------------------------------
-- update_email_verification: records one verification of one business email and updates its
-- status wherever that email
-- came from: the business (Google Maps or the best source), its Facebook enrichment, its
-- LinkedIn enrichment.
-- Guarantees: one audit row per call; the business row is locked first, then the enrichment
-- rows (business -> enrichment); every status UPDATE is guarded by IS DISTINCT FROM, so
-- replaying the same result changes nothing but the audit log. `sources` (in the answer and the
-- audit row) lists the places whose email this is and whose status now holds this result: the
-- business's own email (by its email_source) and each enrichment whose primary email it is; an
-- enrichment that merely lists the address among its other emails has no status to set and is
-- not listed. Accepts the document's shape (000 §1.7: {status, score, is_safe, is_disposable,
-- is_role_based, is_free_email, domain: "business.com", provider, reason, raw_response}) and a
-- Bouncer API response as it is ({status, reason, score, domain{name, disposable, free,
-- acceptAll}, account{role, disabled, fullMailbox}, provider, toxic, ...}), stored whole as
-- raw_response; status valid/invalid/catch_all/accept_all are read as deliverable/undeliverable/
-- risky/risky. is_safe, when not given, is deliverable and not disposable, not disabled, not a
-- full mailbox and not toxic, each flag read as true when it is true or "yes" (Bouncer's
-- spelling) or "true". score, when given, is 0 to 100. One function serves the three
-- verification variants of 001 (Google Maps, Facebook, LinkedIn emails; D40).
-- Confined by leadledger.org_scope(p_organization_id), called first: the business is locked only
-- when it is of that organization (another's is 'Business not found', nothing written), and the
-- audit row takes the locked business's organization_id.
CREATE OR REPLACE FUNCTION public.update_email_verification(
    p_business_id uuid,
    p_email varchar,
    p_verification_data jsonb,
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
    v_email text := lower(btrim(p_email));
    v_status text;
    v_is_safe boolean;
    v_business public.gmaps_businesses;
    v_sources text[] := '{}';
    v_verification_id uuid;
    v_scope uuid;
BEGIN
    v_scope := leadledger.org_scope(p_organization_id);
    IF p_business_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_business_id', 'is required');
    END IF;
    IF NOT coalesce(leadledger.json_type_matches(to_jsonb(v_email), 'email'), false) THEN
        PERFORM leadledger.invalid_parameter('p_email', format('must be an email address, got %s',
                                                               coalesce(quote_literal(p_email), 'nothing')));
    END IF;
    PERFORM leadledger.validate_object(p_verification_data, 'p_verification_data', '{
        "status": "string!", "is_safe": "boolean", "reason": "string", "score": "number",
        "account": "object", "provider": "string", "is_disposable": "boolean", "is_role_based": "boolean",
        "is_free_email": "boolean", "raw_response": "object"}');
    -- The document's shape names the domain ("business.com"); Bouncer's describes it
    -- ({name, acceptAll, disposable, free}). Both are taken as they are.
    IF jsonb_typeof(p_verification_data -> 'domain') NOT IN ('string', 'object', 'null') THEN
        PERFORM leadledger.invalid_parameter('p_verification_data.domain',
            'must be the domain name (a string) or Bouncer''s domain details (a JSON object)');
    END IF;
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
            AND NOT coalesce((p_verification_data ->> 'is_disposable')::boolean, false)
            AND NOT coalesce(lower(p_verification_data #>> '{account,disabled}') IN ('true', 'yes'), false)
            AND NOT coalesce(lower(p_verification_data #>> '{account,fullMailbox}') IN ('true', 'yes'), false)
            AND NOT coalesce(lower(p_verification_data ->> 'toxic') IN ('true', 'yes', 'toxic'), false));

    SELECT * INTO v_business FROM public.gmaps_businesses
     WHERE id = p_business_id AND (v_scope IS NULL OR organization_id = v_scope)
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'Business not found', format('no business with id %s', p_business_id));
    END IF;

    IF v_business.email = v_email THEN
        v_sources := v_sources || v_business.email_source;
        UPDATE public.gmaps_businesses
           SET email_verification_status = v_status, email_is_safe = v_is_safe, updated_at = now()
         WHERE id = p_business_id
           AND (email_verification_status, email_is_safe) IS DISTINCT FROM (v_status, v_is_safe);
    END IF;
    IF EXISTS (SELECT 1 FROM public.gmaps_facebook_enrichments
                WHERE business_id = p_business_id AND primary_email = v_email) THEN
        v_sources := v_sources || 'facebook'::text;
        UPDATE public.gmaps_facebook_enrichments
           SET email_verification_status = v_status, updated_at = now()
         WHERE business_id = p_business_id AND primary_email = v_email
           AND email_verification_status IS DISTINCT FROM v_status;
    END IF;
    IF EXISTS (SELECT 1 FROM public.gmaps_linkedin_enrichments
                WHERE business_id = p_business_id AND primary_email = v_email) THEN
        v_sources := v_sources || 'linkedin'::text;
        UPDATE public.gmaps_linkedin_enrichments
           SET email_verification_status = v_status, updated_at = now()
         WHERE business_id = p_business_id AND primary_email = v_email
           AND email_verification_status IS DISTINCT FROM v_status;
    END IF;
    v_sources := ARRAY(SELECT DISTINCT unnest(v_sources) ORDER BY 1);

    INSERT INTO public.gmaps_email_verifications
        (business_id, campaign_id, organization_id, email, status, is_safe, reason, score, sources, provider,
         raw_response)
    VALUES (p_business_id, v_business.campaign_id, v_business.organization_id, v_email, v_status, v_is_safe,
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
SELECT leadledger.secure_function('public.update_email_verification(uuid, varchar, jsonb, uuid)', true);
