-- Organizations, current state: 1. Organizations and their members.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Roles: members read and write their organization's data; admins also manage members (and
-- keys); owners also manage admins and owners. An organization always keeps an owner.

-- create_organization: a new organization, with its owner.
-- Guarantees: the organization and its owner's membership are created together or not at all.
-- An end user creates it for himself (p_owner_user_id, when given, must be him: 42501); the
-- service may name any existing user, or none.
CREATE OR REPLACE FUNCTION public.create_organization(p_name text, p_owner_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_owner uuid := p_owner_user_id;
    v_id uuid;
BEGIN
    IF p_name IS NULL OR length(btrim(p_name)) NOT BETWEEN 1 AND 200 THEN
        PERFORM leadledger.invalid_parameter('p_name', 'must be 1 to 200 characters');
    END IF;
    IF NOT leadledger.org_is_service() THEN
        IF leadledger.org_claimed_user() IS NULL THEN
            PERFORM leadledger.raise_error('42501', 'Not allowed: sign in first');
        END IF;
        IF v_owner IS NOT NULL AND v_owner <> leadledger.org_claimed_user() THEN
            PERFORM leadledger.raise_error('42501', 'Not allowed: an organization you create is yours');
        END IF;
        v_owner := leadledger.org_claimed_user();
    END IF;
    IF v_owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.app_users WHERE id = v_owner) THEN
        PERFORM leadledger.raise_error('23503', 'User not found', format('no user with id %s', v_owner));
    END IF;
    INSERT INTO public.organizations (name) VALUES (btrim(p_name)) RETURNING id INTO v_id;
    IF v_owner IS NOT NULL THEN
        INSERT INTO public.organization_members (organization_id, user_id, role) VALUES (v_id, v_owner, 'owner');
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'organization_id', v_id, 'name', btrim(p_name), 'owner_user_id', v_owner));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_organization(text, uuid)', true);

-- list_organizations: the organizations a user belongs to, with the user's role (an end user:
-- his own; the service: p_user_id's, or every organization when p_user_id is NULL, role NULL).
CREATE OR REPLACE FUNCTION public.list_organizations(p_user_id uuid DEFAULT NULL)
RETURNS TABLE (organization_id uuid, name text, role text, is_default boolean, members bigint, created_at timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_user uuid := leadledger.org_acting_user(p_user_id);
BEGIN
    IF NOT leadledger.org_is_service() AND (v_user IS NULL OR (p_user_id IS NOT NULL AND p_user_id <> v_user)) THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: you may list your own organizations only');
    END IF;
    RETURN QUERY
        SELECT o.id, o.name, m.role, o.is_default,
               (SELECT count(*) FROM public.organization_members c WHERE c.organization_id = o.id), o.created_at
          FROM public.organizations o
          LEFT JOIN public.organization_members m ON m.organization_id = o.id AND m.user_id = v_user
         WHERE v_user IS NULL OR m.user_id IS NOT NULL
         ORDER BY o.created_at, o.id;
END
$$;
SELECT leadledger.secure_function('public.list_organizations(uuid)', true);

-- list_organization_members: the members of an organization (any member may see them).
-- Guarantees: org_scope confines an end user to his organization; another organization's id is
-- 'Organization not found' (23503).
CREATE OR REPLACE FUNCTION public.list_organization_members(p_organization_id uuid)
RETURNS TABLE (user_id uuid, email text, name text, role text, created_at timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
BEGIN
    IF v_organization IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_organization_id', 'is required');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.organizations WHERE id = v_organization) THEN
        PERFORM leadledger.raise_error('23503', 'Organization not found');
    END IF;
    RETURN QUERY
        SELECT u.id, u.email, u.name, m.role, m.created_at
          FROM public.organization_members m JOIN public.app_users u ON u.id = m.user_id
         WHERE m.organization_id = v_organization
         ORDER BY leadledger.org_role_rank(m.role) DESC, m.created_at, u.id;
END
$$;
SELECT leadledger.secure_function('public.list_organization_members(uuid)', true);

-- org_lock_organization: the organization a membership change acts on, after org_scope
-- (required: a change names one), locked FOR UPDATE so that changes of one organization's
-- owners run one after another; 'Organization not found' (23503) when there is none.
CREATE OR REPLACE FUNCTION leadledger.org_lock_organization(p_organization_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
BEGIN
    IF v_organization IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_organization_id', 'is required');
    END IF;
    PERFORM 1 FROM public.organizations WHERE id = v_organization FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'Organization not found');
    END IF;
    RETURN v_organization;
END
$$;

-- set_organization_member: adds a user to an organization with a role, or changes the role of a
-- member. p_acting_user_id is the user the service acts for (the HTTP API's caller); an end user
-- acts as himself.
-- Guarantees: admins add and change members; only owners grant or take away admin and owner;
-- the organization keeps at least one owner (the last owner cannot be demoted). The membership
-- row is locked (FOR UPDATE) before its role is read, and owners are counted under a lock on the
-- organization row, so two admins racing cannot leave it without an owner.
CREATE OR REPLACE FUNCTION public.set_organization_member(
    p_organization_id uuid,
    p_user_id uuid,
    p_role text DEFAULT 'member',
    p_acting_user_id uuid DEFAULT NULL
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
    v_actor uuid;
    v_current text;
BEGIN
    IF p_user_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_user_id', 'is required');
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member') THEN
        PERFORM leadledger.invalid_parameter('p_role', format('must be owner, admin or member, got %s',
                                                              coalesce(quote_literal(p_role), 'nothing')));
    END IF;
    v_organization := leadledger.org_lock_organization(p_organization_id);
    v_actor := leadledger.org_acting_user(p_acting_user_id);
    IF NOT EXISTS (SELECT 1 FROM public.app_users WHERE id = p_user_id) THEN
        PERFORM leadledger.raise_error('23503', 'User not found', format('no user with id %s', p_user_id));
    END IF;
    SELECT role INTO v_current FROM public.organization_members
     WHERE organization_id = v_organization AND user_id = p_user_id FOR UPDATE;
    PERFORM leadledger.org_require_role(v_organization, v_actor,
        CASE WHEN p_role IN ('owner', 'admin') OR v_current IN ('owner', 'admin') THEN 'owner' ELSE 'admin' END);
    IF v_current = 'owner' AND p_role <> 'owner'
       AND NOT EXISTS (SELECT 1 FROM public.organization_members
                        WHERE organization_id = v_organization AND role = 'owner' AND user_id <> p_user_id) THEN
        PERFORM leadledger.raise_error('P0001', 'An organization keeps at least one owner');
    END IF;
    INSERT INTO public.organization_members (organization_id, user_id, role)
    VALUES (v_organization, p_user_id, p_role)
    ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'organization_id', v_organization, 'user_id', p_user_id, 'role', p_role, 'previous_role', v_current));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.set_organization_member(uuid, uuid, text, uuid)', true);

-- remove_organization_member: takes a user out of an organization and revokes his API keys
-- there (they were already refused: a key works only while its user is a member).
-- Guarantees: admins remove members, owners remove admins and owners; the last owner cannot
-- be removed; same locks as set_organization_member. Removing a non-member is 'Member not
-- found' (23503).
CREATE OR REPLACE FUNCTION public.remove_organization_member(
    p_organization_id uuid,
    p_user_id uuid,
    p_acting_user_id uuid DEFAULT NULL
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
    v_actor uuid;
    v_current text;
    v_revoked integer;
BEGIN
    v_organization := leadledger.org_lock_organization(p_organization_id);
    v_actor := leadledger.org_acting_user(p_acting_user_id);
    SELECT role INTO v_current FROM public.organization_members
     WHERE organization_id = v_organization AND user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'Member not found');
    END IF;
    PERFORM leadledger.org_require_role(v_organization, v_actor,
                                        CASE WHEN v_current IN ('owner', 'admin') THEN 'owner' ELSE 'admin' END);
    IF v_current = 'owner' AND NOT EXISTS (
        SELECT 1 FROM public.organization_members
         WHERE organization_id = v_organization AND role = 'owner' AND user_id <> p_user_id) THEN
        PERFORM leadledger.raise_error('P0001', 'An organization keeps at least one owner');
    END IF;
    DELETE FROM public.organization_members WHERE organization_id = v_organization AND user_id = p_user_id;
    UPDATE public.api_keys SET revoked_at = now()
     WHERE organization_id = v_organization AND user_id = p_user_id AND revoked_at IS NULL;
    GET DIAGNOSTICS v_revoked = ROW_COUNT;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'organization_id', v_organization, 'user_id', p_user_id, 'role', v_current, 'keys_revoked', v_revoked));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.remove_organization_member(uuid, uuid, uuid)', true);
