-- Leads and conversations, current state: 4. soft_delete_lead, restore_lead.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 4. soft_delete_lead, restore_lead
-- ---------------------------------------------------------------------------------------------

-- leadledger.lead_lock_own: locks a lead FOR UPDATE (lead first: the lock order), checking the
-- caller may act on it (leadledger.lead_scope, then lead_visible): a lead of the call's
-- organization (an end user's: his JWT's), and, when the call acts as a user, of an
-- organization he belongs to. Any other lead reads as 'Lead not found' (23503), exactly like a
-- missing one, so ids of other tenants cannot be probed.
CREATE OR REPLACE FUNCTION leadledger.lead_lock_own(p_lead_id uuid, p_user_id uuid, p_organization_id uuid)
RETURNS public.leads
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_lead public.leads;
    v_organization uuid := leadledger.lead_scope(p_organization_id, p_user_id);
BEGIN
    IF p_lead_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_lead_id', 'is required');
    END IF;
    SELECT * INTO v_lead FROM public.leads
     WHERE id = p_lead_id AND (v_organization IS NULL OR organization_id = v_organization)
       FOR UPDATE;
    IF NOT FOUND OR NOT leadledger.lead_visible(v_lead.organization_id, v_organization, p_user_id) THEN
        PERFORM leadledger.raise_error('23503', 'Lead not found', format('no lead %s for this caller', p_lead_id));
    END IF;
    RETURN v_lead;
END
$$;

-- soft_delete_lead: marks a lead and its live conversations deleted, together.
-- Guarantees: the lead row is locked first, then its conversations are updated in the same
-- transaction, so no reader sees one deleted without the other; deleting a deleted lead is a
-- no-op (changed: false). Confined to the organization (the caller's JWT's, or
-- p_organization_id) and to the organizations of p_user_id when given (lead_lock_own): any
-- other lead is 'Lead not found' and nothing changes.
CREATE OR REPLACE FUNCTION public.soft_delete_lead(
    p_lead_id uuid, p_user_id uuid DEFAULT NULL, p_organization_id uuid DEFAULT NULL
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
    v_lead public.leads;
    v_at timestamptz := now();
    v_conversations integer := 0;
BEGIN
    v_lead := leadledger.lead_lock_own(p_lead_id, p_user_id, p_organization_id);
    IF v_lead.deleted_at IS NULL THEN
        UPDATE public.leads SET deleted_at = v_at, updated_at = v_at WHERE id = p_lead_id;
        UPDATE public.conversations SET deleted_at = v_at, updated_at = v_at
         WHERE lead_id = p_lead_id AND deleted_at IS NULL;
        GET DIAGNOSTICS v_conversations = ROW_COUNT;
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', p_lead_id, 'changed', v_lead.deleted_at IS NULL,
        'deleted_at', coalesce(v_lead.deleted_at, v_at), 'conversations', v_conversations));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.soft_delete_lead(uuid, uuid, uuid)', true);

-- restore_lead: brings back a soft-deleted lead and the conversations deleted with it.
-- Guarantees: lead locked first, conversations restored in the same transaction; if the
-- organization has meanwhile got a new live lead for the same phone, the unique index refuses
-- the restore (23505, nothing changed). Restoring a live lead is a no-op (changed: false).
-- Confined as soft_delete_lead is.
CREATE OR REPLACE FUNCTION public.restore_lead(
    p_lead_id uuid, p_user_id uuid DEFAULT NULL, p_organization_id uuid DEFAULT NULL
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
    v_lead public.leads;
    v_conversations integer := 0;
BEGIN
    v_lead := leadledger.lead_lock_own(p_lead_id, p_user_id, p_organization_id);
    IF v_lead.deleted_at IS NOT NULL THEN
        UPDATE public.leads SET deleted_at = NULL, updated_at = now() WHERE id = p_lead_id;
        UPDATE public.conversations SET deleted_at = NULL, updated_at = now()
         WHERE lead_id = p_lead_id AND deleted_at = v_lead.deleted_at;
        GET DIAGNOSTICS v_conversations = ROW_COUNT;
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', p_lead_id, 'changed', v_lead.deleted_at IS NOT NULL, 'conversations', v_conversations));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.restore_lead(uuid, uuid, uuid)', true);
