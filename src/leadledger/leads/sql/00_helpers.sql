-- Leads and conversations, current state: Helpers.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------

-- lead_jwt_user_id: the caller's user id when an end user calls through PostgREST (role
-- authenticated in request.jwt.claims); NULL for the service role and direct connections; an
-- authenticated token without a user id in sub is refused (42501).
CREATE OR REPLACE FUNCTION leadledger.lead_jwt_user_id()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
    IF v_claims IS NULL OR v_claims ->> 'role' IS DISTINCT FROM 'authenticated' THEN
        RETURN NULL;
    END IF;
    -- An end user whose token names no user must not pass for the service (which may act for
    -- every user): refuse.
    IF coalesce(v_claims ->> 'sub', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: the token names no user');
    END IF;
    RETURN (v_claims ->> 'sub')::uuid;
END
$$;

-- lead_assert_tenant: an end user may act only for himself (42501 otherwise); the service may act
-- for any user. Also checks the user exists ('User not found', 23503), and records p_user_id
-- as the user this call acts for (leadledger.acting_user, local to the transaction), which the
-- audit log names when no JWT or leadledger.actor says who acts (leadledger.lead_audit_actor).
CREATE OR REPLACE FUNCTION leadledger.lead_assert_tenant(p_user_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_user_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_user_id', 'is required');
    END IF;
    PERFORM leadledger.lead_scope(p_user_id);  -- the 42501 check and the acting user, in one place
    IF NOT EXISTS (SELECT 1 FROM public.app_users WHERE id = p_user_id) THEN
        PERFORM leadledger.raise_error('23503', 'User not found', format('no user with id %s', p_user_id));
    END IF;
END
$$;

-- lead_scope: the owner a call on one lead is limited to: the end user of the JWT (who may not
-- name another user in p_user_id: 42501, as in lead_assert_tenant), else p_user_id, else NULL (the
-- service, acting on any owner's lead). Records that owner as the acting user for the audit
-- log, as lead_assert_tenant does (cleared when the service acts for no one in particular).
CREATE OR REPLACE FUNCTION leadledger.lead_scope(p_user_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller uuid := leadledger.lead_jwt_user_id();
    v_owner uuid := coalesce(v_caller, p_user_id);
BEGIN
    IF v_caller IS NOT NULL AND p_user_id IS NOT NULL AND v_caller <> p_user_id THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed for this user');
    END IF;
    PERFORM set_config('leadledger.acting_user', coalesce(v_owner::text, ''), true);
    RETURN v_owner;
END
$$;

-- lead_normalize_phone: E.164 from a number as people write it ("+1 (512) 555-0100", "0044 20 ...",
-- WhatsApp's "15125550100" when p_assume_plus); NULL when it cannot be one.
CREATE OR REPLACE FUNCTION leadledger.lead_normalize_phone(p_phone text, p_assume_plus boolean DEFAULT false)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n ~ '^\+[1-9][0-9]{6,14}$' THEN n END
      FROM (SELECT CASE
                WHEN s LIKE '+%' THEN s
                WHEN s LIKE '00%' THEN '+' || substr(s, 3)
                WHEN p_assume_plus THEN '+' || s
                ELSE s END AS n
              FROM (SELECT regexp_replace(btrim(p_phone), '[[:space:]().-]', '', 'g') AS s) stripped) candidate
$$;

-- lead_field_problem: the first bad field of a lead as "field: what is wrong" (NULL when all are
-- fine); the create functions raise it as 22023 with their own path in front.
CREATE OR REPLACE FUNCTION leadledger.lead_field_problem(
    p_phone text, p_name text, p_lead_type text, p_lead_status text, p_conversation_status text,
    p_details text DEFAULT NULL
)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN p_phone IS NULL OR btrim(p_phone) = '' THEN 'customer_phone: is required'
        WHEN leadledger.lead_normalize_phone(p_phone) IS NULL
            THEN format('customer_phone: must be an E.164 number like +15125550100, got %s', quote_literal(p_phone))
        WHEN length(btrim(p_name)) > 200 THEN 'customer_name: must be at most 200 characters'
        WHEN p_lead_type IS NULL THEN 'lead_type: is required'
        WHEN p_lead_type NOT IN ('inquiry', 'quote', 'booking', 'order', 'support', 'complaint', 'other')
            THEN format('lead_type: must be one of inquiry, quote, booking, order, support, complaint, other, got %s',
                        quote_literal(p_lead_type))
        WHEN p_lead_status IS NULL THEN 'lead_status: is required'
        WHEN p_lead_status NOT IN ('new', 'contacted', 'qualified', 'converted', 'lost')
            THEN format('lead_status: must be one of new, contacted, qualified, converted, lost, got %s',
                        quote_literal(p_lead_status))
        WHEN p_conversation_status IS NULL THEN 'conversation_status: is required'
        WHEN p_conversation_status NOT IN ('active', 'waiting', 'closed', 'archived')
            THEN format('conversation_status: must be one of active, waiting, closed, archived, got %s',
                        quote_literal(p_conversation_status))
        WHEN length(p_details) > 10000 THEN 'details: must be at most 10000 characters'
    END
$$;
