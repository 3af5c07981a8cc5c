-- Leads and conversations, current state: 6. WhatsApp numbers and lookups (service only).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 6. WhatsApp numbers and lookups (service only; users and API keys: orgs/sql/02_users_and_keys.sql)
-- ---------------------------------------------------------------------------------------------

-- link_whatsapp_number: says which organization (and which of its members: new leads from the
-- number are his) a WhatsApp Business phone number id belongs to, and where its access token is
-- (p_access_token_ref: 'env:NAME', the environment variable NAME of the sending service, never
-- the token itself; NULL keeps the one stored, and a number with none sends with the
-- deployment's LEADLEDGER_WHATSAPP_ACCESS_TOKEN). The organization is p_organization_id, else
-- the user's one organization.
-- Guarantees: one organization per number (INSERT ... ON CONFLICT DO UPDATE ... WHERE same
-- organization): linking again is idempotent and may change the member, the display number and
-- the token reference; relinking to another organization is refused with 23505 and changes
-- nothing. The user must be a member of the organization (23503). Service only: the operator
-- links numbers (`leadledger whatsapp link --org`), as a token reference names the service's
-- environment.
CREATE OR REPLACE FUNCTION public.link_whatsapp_number(
    p_user_id uuid,
    p_phone_number_id text,
    p_display_phone text DEFAULT NULL,
    p_access_token_ref text DEFAULT NULL,
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
    v_organization uuid;
BEGIN
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
    IF p_phone_number_id IS NULL OR p_phone_number_id !~ '^[0-9]{5,20}$' THEN
        PERFORM leadledger.invalid_parameter('p_phone_number_id', 'must be the numeric WhatsApp phone number id');
    END IF;
    IF p_access_token_ref IS NOT NULL AND p_access_token_ref !~ '^env:[A-Za-z_][A-Za-z0-9_]{0,127}$' THEN
        PERFORM leadledger.invalid_parameter('p_access_token_ref',
            'must be env:NAME, the environment variable that holds the access token (never the token itself)');
    END IF;
    INSERT INTO public.whatsapp_numbers (phone_number_id, organization_id, user_id, display_phone, access_token_ref)
    VALUES (p_phone_number_id, v_organization, p_user_id, p_display_phone, p_access_token_ref)
    ON CONFLICT (phone_number_id) DO UPDATE
       SET user_id = excluded.user_id,
           display_phone = coalesce(excluded.display_phone, whatsapp_numbers.display_phone),
           access_token_ref = coalesce(excluded.access_token_ref, whatsapp_numbers.access_token_ref)
     WHERE whatsapp_numbers.organization_id = excluded.organization_id;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23505', format('WhatsApp number %s belongs to another organization', p_phone_number_id));
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'phone_number_id', p_phone_number_id, 'user_id', p_user_id, 'organization_id', v_organization));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.link_whatsapp_number(uuid, text, text, text, uuid)');

-- whatsapp_number_owner: the organization a WhatsApp phone number id belongs to, and its member
-- whose the number's new leads are: the member it was linked for, or, once he has left the
-- organization, its first owner (an organization always keeps one), so that no message to the
-- number is dropped for want of a member. No row for an unknown number (or, with
-- p_organization_id, one of another organization). The webhook lands an incoming message there.
CREATE OR REPLACE FUNCTION public.whatsapp_number_owner(p_phone_number_id text, p_organization_id uuid DEFAULT NULL)
RETURNS TABLE (user_id uuid, organization_id uuid)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
BEGIN
    RETURN QUERY
        SELECT CASE WHEN leadledger.org_member_role(w.organization_id, w.user_id) IS NOT NULL THEN w.user_id
                    ELSE (SELECT m.user_id FROM public.organization_members m
                           WHERE m.organization_id = w.organization_id AND m.role = 'owner'
                           ORDER BY m.created_at, m.user_id LIMIT 1) END,
               w.organization_id
          FROM public.whatsapp_numbers w
         WHERE w.phone_number_id = p_phone_number_id
           AND (v_organization IS NULL OR w.organization_id = v_organization);
END
$$;
SELECT leadledger.secure_function('public.whatsapp_number_owner(text, uuid)');

-- list_whatsapp_numbers: the WhatsApp numbers of an organization, oldest first, with where their
-- access tokens are (the reference, never a token). Sending picks the caller's organization's
-- number from these. p_organization_id is required of the service (22023); an end user's is his
-- JWT's.
CREATE OR REPLACE FUNCTION public.list_whatsapp_numbers(p_organization_id uuid DEFAULT NULL)
RETURNS TABLE (phone_number_id text, user_id uuid, display_phone text, access_token_ref text, created_at timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
BEGIN
    IF v_organization IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_organization_id', 'is required');
    END IF;
    RETURN QUERY
        SELECT w.phone_number_id, w.user_id, w.display_phone, w.access_token_ref, w.created_at
          FROM public.whatsapp_numbers w
         WHERE w.organization_id = v_organization
         ORDER BY w.created_at, w.phone_number_id;
END
$$;
SELECT leadledger.secure_function('public.list_whatsapp_numbers(uuid)');

-- find_lead_by_phone: the organization's live lead for a phone number (any common notation),
-- whichever member's it is, or no row (also for no user, or an unknown one). The organization is
-- as list_leads finds it (leadledger.lead_organization: p_organization_id, else the user's one
-- organization).
CREATE OR REPLACE FUNCTION public.find_lead_by_phone(p_user_id uuid, p_phone text, p_organization_id uuid DEFAULT NULL)
RETURNS TABLE (lead_id uuid, customer_name text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);  -- the caller first, always
BEGIN
    IF p_user_id IS NULL OR NOT EXISTS (SELECT 1 FROM public.app_users u WHERE u.id = p_user_id) THEN
        RETURN;
    END IF;
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
    RETURN QUERY
        SELECT l.id, l.customer_name FROM public.leads l
         WHERE l.organization_id = v_organization AND l.deleted_at IS NULL
           AND l.customer_phone = leadledger.lead_normalize_phone(p_phone, true);
END
$$;
SELECT leadledger.secure_function('public.find_lead_by_phone(uuid, text, uuid)');
