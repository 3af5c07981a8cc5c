-- Leads and conversations, current state: 1. create_lead_with_conversation.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 1. create_lead_with_conversation
-- ---------------------------------------------------------------------------------------------
-- create_lead_with_conversation: creates a lead and its conversation together, or neither, in
-- one organization, as the lead of p_user_id.
-- Guarantees: the caller is checked first (leadledger.lead_organization: an end user creates
-- leads only as himself, in the organization of his JWT, 42501 otherwise; the service names the
-- organization, or the user's one organization is taken); all input is checked before the first
-- insert (22023 naming the field); both inserts run in the function's one transaction, and the
-- deferred constraint trigger leads_need_conversation refuses any lead without a conversation at
-- commit; a second live lead for the same phone in the organization is refused by
-- leads_organization_phone_live_key (23505). Returns JSON (the seed's type) with lead_id and
-- conversation_id.
CREATE OR REPLACE FUNCTION public.create_lead_with_conversation(
    p_user_id uuid,
    p_customer_phone text,
    p_customer_name text,
    p_lead_type text,
    p_details text DEFAULT NULL,
    p_conversation_status text DEFAULT 'active',
    p_lead_status text DEFAULT 'new',
    p_organization_id uuid DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_problem text;
    v_lead_id uuid;
    v_conversation_id uuid;
    v_organization uuid;
BEGIN
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
    v_problem := leadledger.lead_field_problem(
        p_customer_phone, p_customer_name, p_lead_type, p_lead_status, p_conversation_status, p_details);
    IF v_problem IS NOT NULL THEN
        PERFORM leadledger.invalid_parameter('p_' || split_part(v_problem, ':', 1),
                                             btrim(substr(v_problem, position(':' IN v_problem) + 1)));
    END IF;

    INSERT INTO public.leads (organization_id, user_id, customer_phone, customer_name, lead_type, status, details)
    VALUES (v_organization, p_user_id, leadledger.lead_normalize_phone(p_customer_phone), nullif(btrim(p_customer_name), ''),
            p_lead_type, p_lead_status, p_details)
    RETURNING id INTO v_lead_id;
    INSERT INTO public.conversations (organization_id, lead_id, user_id, status)
    VALUES (v_organization, v_lead_id, p_user_id, p_conversation_status)
    RETURNING id INTO v_conversation_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', v_lead_id, 'conversation_id', v_conversation_id, 'organization_id', v_organization,
        'customer_phone', leadledger.lead_normalize_phone(p_customer_phone)))::json;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context)::json;
END
$$;
SELECT leadledger.secure_function('public.create_lead_with_conversation(uuid, text, text, text, text, text, text, uuid)', true);
