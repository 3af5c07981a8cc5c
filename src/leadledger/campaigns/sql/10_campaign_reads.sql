-- Campaign pipeline, current state: 10. Reads for the API and CLI: get_campaign_overview, list_campaigns.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 10. Reads for the API and CLI: get_campaign_overview, list_campaigns
-- ---------------------------------------------------------------------------------------------
-- get_campaign_overview: one campaign with its stored statistics, coverage progress (counted
-- live from the coverage rows), costs by service and status history, as one envelope;
-- 'Campaign not found' (23503) otherwise. Read-only.
-- Guarantees: confined by leadledger.org_scope(p_organization_id), called first: a campaign of
-- another organization is 'Campaign not found', so nothing of it is read.
CREATE OR REPLACE FUNCTION public.get_campaign_overview(p_campaign_id uuid, p_organization_id uuid DEFAULT NULL)
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
    PERFORM leadledger.gmaps_assert_campaign(p_campaign_id, leadledger.org_scope(p_organization_id));
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
SELECT leadledger.secure_function('public.get_campaign_overview(uuid, uuid)', true);

-- list_campaigns: campaigns newest first, with keyset pagination: pass the created_at and id of
-- the last row of a page as p_before_created_at / p_before_id for the next page (stable under
-- concurrent inserts, unlike OFFSET).
-- Guarantees: confined by leadledger.org_scope(p_organization_id), called first: only that
-- organization's campaigns are listed (served by gmaps_campaigns_organization_idx), a cursor
-- naming another organization's campaign only positions the page; the service without an
-- organization lists every organization's (gmaps_campaigns_created_idx). Planned per call
-- (force_custom_plan), so that each call's plan uses the index its arguments need.
CREATE OR REPLACE FUNCTION public.list_campaigns(
    p_limit integer DEFAULT 50,
    p_before_created_at timestamptz DEFAULT NULL,
    p_before_id uuid DEFAULT NULL,
    p_status varchar DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
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
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
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
         WHERE (v_organization IS NULL OR c.organization_id = v_organization)
           AND (p_before_created_at IS NULL OR (c.created_at, c.id) < (p_before_created_at, p_before_id))
           AND (p_status IS NULL OR c.status = p_status)
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT p_limit;
END
$$;
SELECT leadledger.secure_function('public.list_campaigns(integer, timestamptz, uuid, varchar, uuid)', true);
