-- Leads and conversations, current state: 6. WhatsApp numbers and lookups (service only).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 6. WhatsApp numbers and lookups (service only; users and API keys: orgs/sql/02_users_and_keys.sql)
-- ---------------------------------------------------------------------------------------------

-- link_whatsapp_number: says which user owns a WhatsApp Business phone number id.
-- Guarantees: one owner per number (INSERT ... ON CONFLICT DO UPDATE ... WHERE same user: linking
-- again is idempotent, relinking to another user is refused with 23505 and changes nothing).
CREATE OR REPLACE FUNCTION public.link_whatsapp_number(p_user_id uuid, p_phone_number_id text, p_display_phone text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    PERFORM leadledger.lead_assert_tenant(p_user_id);
    IF p_phone_number_id IS NULL OR p_phone_number_id !~ '^[0-9]{5,20}$' THEN
        PERFORM leadledger.invalid_parameter('p_phone_number_id', 'must be the numeric WhatsApp phone number id');
    END IF;
    INSERT INTO public.whatsapp_numbers (phone_number_id, user_id, display_phone)
    VALUES (p_phone_number_id, p_user_id, p_display_phone)
    ON CONFLICT (phone_number_id) DO UPDATE SET display_phone = coalesce(excluded.display_phone, whatsapp_numbers.display_phone)
     WHERE whatsapp_numbers.user_id = excluded.user_id;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23505', format('WhatsApp number %s belongs to another user', p_phone_number_id));
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object('phone_number_id', p_phone_number_id, 'user_id', p_user_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.link_whatsapp_number(uuid, text, text)');

-- whatsapp_number_owner: the user who owns a WhatsApp phone number id, or no row.
CREATE OR REPLACE FUNCTION public.whatsapp_number_owner(p_phone_number_id text)
RETURNS TABLE (user_id uuid)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.user_id FROM public.whatsapp_numbers w WHERE w.phone_number_id = p_phone_number_id
$$;
SELECT leadledger.secure_function('public.whatsapp_number_owner(text)');

-- find_lead_by_phone: the user's live lead for a phone number (any common notation), or no row.
CREATE OR REPLACE FUNCTION public.find_lead_by_phone(p_user_id uuid, p_phone text)
RETURNS TABLE (lead_id uuid, customer_name text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.id, l.customer_name FROM public.leads l
     WHERE l.user_id = p_user_id AND l.deleted_at IS NULL
       AND l.customer_phone = leadledger.lead_normalize_phone(p_phone, true)
$$;
SELECT leadledger.secure_function('public.find_lead_by_phone(uuid, text)');
