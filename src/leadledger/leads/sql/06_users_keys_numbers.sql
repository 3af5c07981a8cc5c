-- Leads and conversations, current state: 6. Users, API keys, WhatsApp numbers (service only).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 6. Users, API keys, WhatsApp numbers (service only)
-- ---------------------------------------------------------------------------------------------

-- create_app_user: a new owner of leads.
-- Guarantees: one user per email (unique app_users.email: a second one is 23505, nothing written).
CREATE OR REPLACE FUNCTION public.create_app_user(p_email text, p_name text DEFAULT NULL, p_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_id uuid;
BEGIN
    IF p_email IS NULL OR NOT leadledger.json_type_matches(to_jsonb(lower(btrim(p_email))), 'email') THEN
        PERFORM leadledger.invalid_parameter('p_email', 'must be an email address');
    END IF;
    INSERT INTO public.app_users (id, email, name)
    VALUES (coalesce(p_user_id, gen_random_uuid()), lower(btrim(p_email)), p_name)
    RETURNING id INTO v_id;
    RETURN leadledger.ok_envelope(jsonb_build_object('user_id', v_id, 'email', lower(btrim(p_email))));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_app_user(text, text, uuid)');

-- create_api_key: stores the SHA-256 (hex) of a new API key for a user.
-- Guarantees: the key itself is never stored; a hash is stored once (unique key_hash: 23505).
CREATE OR REPLACE FUNCTION public.create_api_key(p_user_id uuid, p_key_hash text, p_name text DEFAULT 'default')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_id uuid;
BEGIN
    PERFORM leadledger.lead_assert_tenant(p_user_id);
    IF p_key_hash IS NULL OR p_key_hash !~ '^[0-9a-f]{64}$' THEN
        PERFORM leadledger.invalid_parameter('p_key_hash', 'must be a hex SHA-256 digest');
    END IF;
    INSERT INTO public.api_keys (user_id, key_hash, name) VALUES (p_user_id, p_key_hash, coalesce(p_name, 'default'))
    RETURNING id INTO v_id;
    RETURN leadledger.ok_envelope(jsonb_build_object('api_key_id', v_id, 'user_id', p_user_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_api_key(uuid, text, text)');

-- authenticate_api_key: the user id of a live (not revoked) API key hash, or no row.
CREATE OR REPLACE FUNCTION public.authenticate_api_key(p_key_hash text)
RETURNS TABLE (user_id uuid, api_key_id uuid)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.user_id, k.id FROM public.api_keys k WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
$$;
SELECT leadledger.secure_function('public.authenticate_api_key(text)');

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
