-- Campaign pipeline, current state: 4. track_campaign_cost.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 4. track_campaign_cost
-- ---------------------------------------------------------------------------------------------
-- track_campaign_cost: records one API cost and adds it to the campaign's total.
-- Guarantees: no update is ever lost, however many callers at once: the total is one atomic
-- `UPDATE ... SET actual_cost = actual_cost + p_cost_usd RETURNING` (the row lock serialises
-- concurrent adds; each sees the previous committed total), and the cost row is inserted in the
-- same transaction, so sum(cost rows) = actual_cost always. The UPDATE runs first so that an
-- unknown campaign is found before any insert. An amount that is NaN (which would make the total
-- NaN for good), too large for numeric(14, 6), more precise than its 6 decimal places (it would
-- be stored rounded), or that would take the total there, is rejected as bad input naming
-- p_cost_usd (the UPDATE's own WHERE decides the last, against the latest total). The answer
-- carries the amount as stored (cost_usd) and the campaign total after this cost (new_total).
-- Confined by leadledger.org_scope(p_organization_id), called first: the UPDATE matches only a
-- campaign of that organization (another's is 'Campaign not found', nothing added), and the cost
-- row takes the organization_id of the campaign row it updated.
-- Isolation: READ COMMITTED is enough (docs/decisions.md D38): the atomic UPDATE takes the row
-- lock and adds to the latest committed total, which is what the document's SERIALIZABLE +
-- SELECT ... FOR UPDATE was for; SERIALIZABLE cannot be set inside a function anyway.
CREATE OR REPLACE FUNCTION public.track_campaign_cost(
    p_campaign_id uuid,
    p_service varchar,
    p_items_processed integer,
    p_cost_usd numeric,
    p_metadata jsonb DEFAULT NULL,
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
    v_total numeric;
    v_cost_id uuid;
    v_stored numeric;
    v_scope uuid;
    v_organization uuid;
BEGIN
    v_scope := leadledger.org_scope(p_organization_id);
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
       AND (v_scope IS NULL OR organization_id = v_scope)
       AND round(actual_cost + p_cost_usd, 6) < 100000000
    RETURNING actual_cost, organization_id INTO v_total, v_organization;
    IF NOT FOUND THEN
        PERFORM leadledger.gmaps_assert_campaign(p_campaign_id, v_scope);
        PERFORM leadledger.invalid_parameter('p_cost_usd', format(
            '%s would take the campaign total cost to 100000000 or more', p_cost_usd));
    END IF;

    INSERT INTO public.gmaps_api_costs (campaign_id, organization_id, service, items_processed, cost_usd, metadata)
    VALUES (p_campaign_id, v_organization, p_service, p_items_processed, p_cost_usd, nullif(p_metadata, 'null'::jsonb))
    RETURNING id, cost_usd INTO v_cost_id, v_stored;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'cost_id', v_cost_id, 'campaign_id', p_campaign_id, 'service', p_service,
        'cost_usd', v_stored, 'items_processed', p_items_processed, 'new_total', v_total));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, uuid)', true);
