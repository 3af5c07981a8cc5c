-- Leads and conversations, current state: 4. soft_delete_lead, restore_lead.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 4. soft_delete_lead, restore_lead
-- ---------------------------------------------------------------------------------------------

-- leadledger.lead_lock_own: locks a lead FOR UPDATE (lead first: the lock order), checking the
-- caller may act on it: the end user of the JWT (who may pass only his own id as p_user_id), else
-- p_user_id (leadledger.lead_scope). Someone else's lead reads as 'Lead not found' (23503), so ids
-- of other tenants cannot be probed.
CREATE OR REPLACE FUNCTION leadledger.lead_lock_own(p_lead_id uuid, p_user_id uuid)
RETURNS public.leads
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_lead public.leads;
    v_owner uuid := leadledger.lead_scope(p_user_id);
BEGIN
    IF p_lead_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_lead_id', 'is required');
    END IF;
    SELECT * INTO v_lead FROM public.leads WHERE id = p_lead_id FOR UPDATE;
    IF NOT FOUND OR (v_owner IS NOT NULL AND v_lead.user_id <> v_owner) THEN
        PERFORM leadledger.raise_error('23503', 'Lead not found', format('no lead %s for this user', p_lead_id));
    END IF;
    RETURN v_lead;
END
$$;

-- soft_delete_lead: marks a lead and its live conversations deleted, together.
-- Guarantees: the lead row is locked first, then its conversations are updated in the same
-- transaction, so no reader sees one deleted without the other; deleting a deleted lead is a
-- no-op (changed: false). p_user_id (optional) or the caller's JWT limits it to one's own leads.
CREATE OR REPLACE FUNCTION public.soft_delete_lead(p_lead_id uuid, p_user_id uuid DEFAULT NULL)
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
    v_lead := leadledger.lead_lock_own(p_lead_id, p_user_id);
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
SELECT leadledger.secure_function('public.soft_delete_lead(uuid, uuid)', true);

-- restore_lead: brings back a soft-deleted lead and the conversations deleted with it.
-- Guarantees: lead locked first, conversations restored in the same transaction; if the user
-- has meanwhile got a new live lead for the same phone, the unique index refuses the restore
-- (23505, nothing changed). Restoring a live lead is a no-op (changed: false).
CREATE OR REPLACE FUNCTION public.restore_lead(p_lead_id uuid, p_user_id uuid DEFAULT NULL)
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
    v_lead := leadledger.lead_lock_own(p_lead_id, p_user_id);
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
SELECT leadledger.secure_function('public.restore_lead(uuid, uuid)', true);
