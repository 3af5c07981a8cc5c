-- Campaign pipeline, current state: 9. Campaign status.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Row locks are always taken in the order campaign -> coverage -> business -> enrichment.

-- ---------------------------------------------------------------------------------------------
-- 9. Campaign status
-- ---------------------------------------------------------------------------------------------
-- is_valid_status_transition: the campaign state machine. draft -> running | cancelled;
-- running -> paused | completed | failed | cancelled; paused -> running | failed | cancelled;
-- completed, failed and cancelled are final. Unknown states are never valid.
-- It reads no data, so it needs no organization (end users may call it, to show the allowed moves).
CREATE OR REPLACE FUNCTION public.is_valid_status_transition(p_from varchar, p_to varchar)
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
SELECT leadledger.secure_function('public.is_valid_status_transition(varchar, varchar)', true);

-- transition_campaign_status: moves a campaign to a new status and records the transition.
-- Guarantees: the campaign row is locked FOR NO KEY UPDATE before its status is read, so of two
-- racing transitions the second reads the first's result and is judged against it: exactly
-- one of two conflicting transitions wins (the loser gets P0001 naming both states). Every
-- transition appends to gmaps_campaign_status_history with its time and reason.
-- Confined by leadledger.org_scope(p_organization_id), called first: only a campaign of that
-- organization is locked (another's is 'Campaign not found', nothing written), and the history row
-- takes the locked campaign's organization_id.
CREATE OR REPLACE FUNCTION public.transition_campaign_status(
    p_campaign_id uuid,
    p_new_status varchar,
    p_reason text DEFAULT NULL,
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
    v_from text;
    v_at timestamptz := clock_timestamp();
    v_scope uuid;
    v_organization uuid;
BEGIN
    v_scope := leadledger.org_scope(p_organization_id);
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
    SELECT status, organization_id INTO v_from, v_organization
      FROM public.gmaps_campaigns
     WHERE id = p_campaign_id AND (v_scope IS NULL OR organization_id = v_scope)
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'Campaign not found', format('no campaign with id %s', p_campaign_id));
    END IF;
    IF NOT public.is_valid_status_transition(v_from, p_new_status) THEN
        PERFORM leadledger.raise_error('P0001', format('Invalid status transition from %s to %s', v_from, p_new_status),
            p_hint => coalesce(
                'allowed from ' || v_from || ': ' || (
                    SELECT string_agg(s, ', ' ORDER BY o)
                      FROM unnest(ARRAY['draft', 'running', 'paused', 'completed', 'failed', 'cancelled'])
                           WITH ORDINALITY AS t(s, o)
                     WHERE public.is_valid_status_transition(v_from, s)),
                v_from || ' is a final status'));
    END IF;

    UPDATE public.gmaps_campaigns SET
        status = p_new_status,
        status_reason = p_reason,
        status_changed_at = v_at,
        started_at = CASE WHEN p_new_status = 'running' THEN coalesce(started_at, v_at) ELSE started_at END,
        completed_at = CASE WHEN p_new_status IN ('completed', 'failed', 'cancelled') THEN v_at ELSE completed_at END,
        updated_at = v_at
     WHERE id = p_campaign_id;
    INSERT INTO public.gmaps_campaign_status_history
        (campaign_id, organization_id, from_status, to_status, reason, changed_at)
    VALUES (p_campaign_id, v_organization, v_from, p_new_status, p_reason, v_at);

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'campaign_id', p_campaign_id, 'from_status', v_from, 'to_status', p_new_status,
        'reason', p_reason, 'changed_at', v_at));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.transition_campaign_status(uuid, varchar, text, uuid)', true);
