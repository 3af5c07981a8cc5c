-- Leads and conversations, current state: Helpers.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------

-- lead_scope: who a leads call acts as and which organization it is confined to, checked first
-- thing (D47). leadledger.org_scope decides the organization: the service's is p_organization_id
-- (NULL: any organization); an end user's is the one his JWT claims name, of which he must be a
-- member (42501 otherwise; another p_organization_id is 'Organization not found'). An end user
-- acts only as himself: a p_user_id of anyone else is 42501 'Not allowed for this user'. The
-- service may act as any user (the HTTP API passes its caller): he must exist ('User not found',
-- 23503) and be a member of p_organization_id when it is given ('Member not found', 23503).
-- Records the user as the transaction's acting user (leadledger.acting_user), whom the audit log
-- names when no JWT or leadledger.actor says who acts; the service acting for no one clears it.
CREATE OR REPLACE FUNCTION leadledger.lead_scope(p_organization_id uuid, p_user_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
BEGIN
    IF NOT leadledger.org_is_service() THEN
        IF p_user_id IS NOT NULL AND p_user_id IS DISTINCT FROM leadledger.org_claimed_user() THEN
            PERFORM leadledger.raise_error('42501', 'Not allowed for this user');
        END IF;
        RETURN v_organization;  -- org_scope recorded the end user as the acting user
    END IF;
    PERFORM set_config('leadledger.acting_user', coalesce(p_user_id::text, ''), true);
    IF p_user_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM public.app_users WHERE id = p_user_id) THEN
            PERFORM leadledger.raise_error('23503', 'User not found', format('no user with id %s', p_user_id));
        END IF;
        IF v_organization IS NOT NULL AND leadledger.org_member_role(v_organization, p_user_id) IS NULL THEN
            PERFORM leadledger.raise_error('23503', 'Member not found',
                format('user %s is not a member of organization %s', p_user_id, v_organization));
        END IF;
    END IF;
    RETURN v_organization;
END
$$;

-- lead_organization: the one organization a call that creates or lists leads works in, for the
-- user it acts as (p_user_id, required: 22023): lead_scope's, else (the service naming no
-- organization) the user's one organization (leadledger.org_of_user: 22023 naming
-- p_organization_id when he belongs to several).
CREATE OR REPLACE FUNCTION leadledger.lead_organization(p_organization_id uuid, p_user_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.lead_scope(p_organization_id, p_user_id);
BEGIN
    IF p_user_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_user_id', 'is required');
    END IF;
    RETURN coalesce(v_organization, leadledger.org_of_user(p_user_id));
END
$$;

-- lead_visible: whether a lead of organization p_lead_organization is one the call may touch:
-- of the call's organization (lead_scope's; NULL: the service, any), and, when the call acts as
-- a user, of an organization he is a member of. A lead that is not reads as 'Lead not found'.
CREATE OR REPLACE FUNCTION leadledger.lead_visible(p_lead_organization uuid, p_organization_id uuid, p_user_id uuid)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (p_organization_id IS NULL OR p_lead_organization = p_organization_id)
       AND (p_user_id IS NULL OR leadledger.org_member_role(p_lead_organization, p_user_id) IS NOT NULL);
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
