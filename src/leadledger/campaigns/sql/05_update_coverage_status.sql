-- Campaign pipeline, current state: 5. update_coverage_status.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 5. update_coverage_status
-- ---------------------------------------------------------------------------------------------
-- update_coverage_status: marks one ZIP of a campaign scraped, with its results, or failed
-- (p_status 'failed') with the
-- reason in p_error (a provider's message); a repeat call overwrites them, so a failed ZIP can
-- be scraped later (its error is then cleared). Failed ZIPs are counted as zips_failed by
-- update_campaign_statistics and get_campaign_overview.
-- Guarantees: one atomic UPDATE of the (campaign_id, zip_code) row (unique key); a ZIP that is
-- not part of the campaign, or an unknown campaign, is a 23503 error and writes nothing; a
-- negative, NaN, too large or too precise p_actual_cost, an unknown p_status, or a failure
-- without a reason is 22023.
-- Confined by leadledger.org_scope(p_organization_id), called first: a campaign of another
-- organization is 'Campaign not found', and the UPDATE matches only coverage rows of the confined
-- organization.
CREATE OR REPLACE FUNCTION public.update_coverage_status(
    p_campaign_id uuid,
    p_zip_code varchar,
    p_businesses_found integer,
    p_emails_found integer,
    p_actual_cost numeric,
    p_status varchar DEFAULT 'scraped',
    p_error text DEFAULT NULL,
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
    v_row public.gmaps_campaign_coverage;
    v_organization uuid;
BEGIN
    v_organization := leadledger.gmaps_assert_campaign(p_campaign_id, leadledger.org_scope(p_organization_id));
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
    IF p_status IS NULL OR p_status NOT IN ('scraped', 'failed') THEN
        PERFORM leadledger.invalid_parameter('p_status', format('must be scraped or failed, got %s',
                                                                coalesce(quote_literal(p_status), 'nothing')));
    END IF;
    IF p_status = 'failed' AND nullif(btrim(p_error), '') IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_error', 'is required when p_status is failed (say why)');
    END IF;
    IF p_status = 'scraped' AND p_error IS NOT NULL THEN
        PERFORM leadledger.invalid_parameter('p_error', 'is only for p_status failed');
    END IF;

    UPDATE public.gmaps_campaign_coverage
       SET status = p_status, businesses_found = p_businesses_found, emails_found = p_emails_found,
           actual_cost = p_actual_cost,
           scraped_at = CASE WHEN p_status = 'scraped' THEN now() ELSE scraped_at END,
           failed_at = CASE WHEN p_status = 'failed' THEN now() END,
           error = CASE WHEN p_status = 'failed' THEN left(btrim(p_error), 2000) END,
           updated_at = now()
     WHERE campaign_id = p_campaign_id AND zip_code = p_zip_code AND organization_id = v_organization
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', format('ZIP code %s is not part of this campaign', p_zip_code),
                                       format('campaign %s', p_campaign_id));
    END IF;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'zip_code', p_zip_code, 'status', v_row.status,
        'businesses_found', v_row.businesses_found, 'emails_found', v_row.emails_found,
        'actual_cost', v_row.actual_cost, 'scraped_at', v_row.scraped_at, 'failed_at', v_row.failed_at,
        'error', v_row.error));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_coverage_status(uuid, varchar, integer, integer, numeric, varchar, text, uuid)', true);
