-- Leads and conversations, current state: 5. Reads: list_leads, get_lead.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 5. Reads: list_leads, get_lead
-- ---------------------------------------------------------------------------------------------

-- list_leads: the live leads of the organization p_user_id acts in (every member's: members
-- share their organization's leads), newest first, with their open (or latest) conversation.
-- The organization is the caller's JWT's for an end user (who may name only himself as
-- p_user_id), else p_organization_id, else the user's one organization
-- (leadledger.lead_organization). Keyset pagination: pass the last row's created_at and lead_id
-- as p_before_created_at and p_before_id. Filters: status, lead type, and a search on name or
-- phone. Soft-deleted leads are never listed. Served by leads_organization_created_idx.
CREATE OR REPLACE FUNCTION public.list_leads(
    p_user_id uuid,
    p_limit integer DEFAULT 50,
    p_before_created_at timestamptz DEFAULT NULL,
    p_before_id uuid DEFAULT NULL,
    p_status text DEFAULT NULL,
    p_lead_type text DEFAULT NULL,
    p_search text DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
)
RETURNS TABLE (
    lead_id uuid, customer_phone text, customer_name text, lead_type text, status text, source text,
    details text, created_at timestamptz, updated_at timestamptz, conversation_id uuid,
    conversation_status text, last_message_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_organization uuid := leadledger.lead_organization(p_organization_id, p_user_id);
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 1000');
    END IF;
    IF (p_before_created_at IS NULL) <> (p_before_id IS NULL) THEN
        PERFORM leadledger.invalid_parameter('p_before_id', 'p_before_created_at and p_before_id go together');
    END IF;
    RETURN QUERY
        SELECT l.id, l.customer_phone, l.customer_name, l.lead_type, l.status, l.source, l.details,
               l.created_at, l.updated_at, c.id, c.status, c.last_message_at
          FROM public.leads l
          LEFT JOIN LATERAL (
              SELECT cv.id, cv.status, cv.last_message_at FROM public.conversations cv
               WHERE cv.lead_id = l.id AND cv.deleted_at IS NULL
               ORDER BY (cv.status IN ('active', 'waiting')) DESC, cv.created_at DESC
               LIMIT 1) c ON true
         WHERE l.organization_id = v_organization AND l.deleted_at IS NULL
           AND (p_before_created_at IS NULL OR (l.created_at, l.id) < (p_before_created_at, p_before_id))
           AND (p_status IS NULL OR l.status = p_status)
           AND (p_lead_type IS NULL OR l.lead_type = p_lead_type)
           AND (p_search IS NULL OR l.customer_name ILIKE '%' || p_search || '%'
                -- by phone only when the search has digits (else every phone would match '%%')
                OR (p_search ~ '[0-9]'
                    AND l.customer_phone LIKE '%' || regexp_replace(p_search, '[^0-9+]', '', 'g') || '%'))
         ORDER BY l.created_at DESC, l.id DESC
         LIMIT p_limit;
END
$$;
SELECT leadledger.secure_function('public.list_leads(uuid, integer, timestamptz, uuid, text, text, text, uuid)', true);

-- get_lead: one live lead with its conversations and their latest 50 messages. Confined as
-- soft_delete_lead is (leadledger.lead_scope, lead_visible): another organization's lead is
-- 'Lead not found', exactly like a missing one.
CREATE OR REPLACE FUNCTION public.get_lead(
    p_lead_id uuid, p_user_id uuid DEFAULT NULL, p_organization_id uuid DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_organization uuid;
    v_lead public.leads;
BEGIN
    v_organization := leadledger.lead_scope(p_organization_id, p_user_id);  -- in the body: its 42501 becomes the envelope
    SELECT * INTO v_lead FROM public.leads
     WHERE id = p_lead_id AND deleted_at IS NULL AND (v_organization IS NULL OR organization_id = v_organization);
    IF NOT FOUND OR NOT leadledger.lead_visible(v_lead.organization_id, v_organization, p_user_id) THEN
        PERFORM leadledger.raise_error('23503', 'Lead not found');
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead', to_jsonb(v_lead),
        'conversations', coalesce((
            SELECT jsonb_agg(to_jsonb(c) || jsonb_build_object('messages', coalesce((
                       SELECT jsonb_agg(to_jsonb(m) - 'payload' ORDER BY m.sent_at, m.created_at, m.id)
                         FROM (SELECT * FROM public.messages WHERE conversation_id = c.id
                                ORDER BY sent_at DESC, created_at DESC, id DESC LIMIT 50) m), '[]'::jsonb))
                   ORDER BY c.created_at)
              FROM public.conversations c WHERE c.lead_id = p_lead_id AND c.deleted_at IS NULL), '[]'::jsonb)));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.get_lead(uuid, uuid, uuid)', true);
