-- Organizations, current state: 2. Users and API keys.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- An API key is a user acting within one organization. Only its SHA-256 is stored; it works
-- while it is not revoked and its user is still a member of its organization.

-- create_app_user: a new user, member of an organization.
-- Guarantees: one user per email (unique app_users.email: a second one is 23505, nothing
-- written); the user and the membership are created together. Without p_organization_id the
-- user gets an organization of his own, as its owner (what every user had after
-- 20261202040000_organizations), so each user belongs to at least one organization.
-- Service only (provisioning): granted to it alone, and anyone else is refused (42501).
CREATE OR REPLACE FUNCTION public.create_app_user(
    p_email text,
    p_name text DEFAULT NULL,
    p_user_id uuid DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL,
    p_role text DEFAULT 'member'
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
    v_email text := lower(btrim(p_email));
    v_id uuid;
    v_organization uuid := p_organization_id;
    v_role text := p_role;
BEGIN
    -- Granted to the service only; checked here too, so a grant added by mistake (or a role
    -- made IN ROLE of one that has it) cannot let an end user join any organization as owner.
    IF NOT leadledger.org_is_service() THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: only the service creates users');
    END IF;
    IF v_email IS NULL OR NOT leadledger.json_type_matches(to_jsonb(v_email), 'email') THEN
        PERFORM leadledger.invalid_parameter('p_email', 'must be an email address');
    END IF;
    IF v_role IS NULL OR v_role NOT IN ('owner', 'admin', 'member') THEN
        PERFORM leadledger.invalid_parameter('p_role', 'must be owner, admin or member');
    END IF;
    IF v_organization IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.organizations WHERE id = v_organization) THEN
        PERFORM leadledger.raise_error('23503', 'Organization not found');
    END IF;
    INSERT INTO public.app_users (id, email, name)
    VALUES (coalesce(p_user_id, gen_random_uuid()), v_email, nullif(btrim(p_name), ''))
    RETURNING id INTO v_id;
    IF v_organization IS NULL THEN
        INSERT INTO public.organizations (name)
        VALUES (left(coalesce(nullif(btrim(p_name), ''), v_email), 200))
        RETURNING id INTO v_organization;
        v_role := 'owner';
    END IF;
    INSERT INTO public.organization_members (organization_id, user_id, role) VALUES (v_organization, v_id, v_role);
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'user_id', v_id, 'email', v_email, 'organization_id', v_organization, 'role', v_role));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_app_user(text, text, uuid, uuid, text)');

-- create_api_key: stores the SHA-256 (hex) of a new API key of a user in an organization.
-- Guarantees: the key itself is never stored; a hash is stored once (unique key_hash: 23505);
-- the key's user must be a member of the organization (23503 'Member not found' otherwise);
-- only an admin or owner may create keys, and only an owner keys acting for another admin or
-- owner (org_role_to_manage; the service acting for no one may).
-- Without p_organization_id, the user's one organization (22023 when he has several).
CREATE OR REPLACE FUNCTION public.create_api_key(
    p_user_id uuid,
    p_key_hash text,
    p_name text DEFAULT 'default',
    p_organization_id uuid DEFAULT NULL,
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
    v_id uuid;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    IF p_user_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_user_id', 'is required');
    END IF;
    IF p_key_hash IS NULL OR p_key_hash !~ '^[0-9a-f]{64}$' THEN
        PERFORM leadledger.invalid_parameter('p_key_hash', 'must be a hex SHA-256 digest');
    END IF;
    v_organization := coalesce(v_organization, leadledger.org_of_user(p_user_id));
    v_actor := leadledger.org_acting_user(p_acting_user_id);
    PERFORM leadledger.org_require_role(v_organization, v_actor,
                                        leadledger.org_role_to_manage(v_organization, v_actor, p_user_id));
    IF leadledger.org_member_role(v_organization, p_user_id) IS NULL THEN
        PERFORM leadledger.raise_error('23503', 'Member not found',
                                       format('user %s is not a member of organization %s', p_user_id, v_organization));
    END IF;
    INSERT INTO public.api_keys (user_id, organization_id, key_hash, name)
    VALUES (p_user_id, v_organization, p_key_hash, coalesce(nullif(btrim(p_name), ''), 'default'))
    RETURNING id INTO v_id;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'api_key_id', v_id, 'user_id', p_user_id, 'organization_id', v_organization));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_api_key(uuid, text, text, uuid, uuid)', true);

-- list_api_keys: an organization's API keys (never their hashes), newest first; admins only.
CREATE OR REPLACE FUNCTION public.list_api_keys(p_organization_id uuid, p_acting_user_id uuid DEFAULT NULL)
RETURNS TABLE (api_key_id uuid, user_id uuid, email text, name text, created_at timestamptz,
               last_used_at timestamptz, revoked_at timestamptz)
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
    PERFORM leadledger.org_require_role(v_organization, leadledger.org_acting_user(p_acting_user_id), 'admin');
    RETURN QUERY
        SELECT k.id, k.user_id, u.email, k.name, k.created_at, k.last_used_at, k.revoked_at
          FROM public.api_keys k JOIN public.app_users u ON u.id = k.user_id
         WHERE k.organization_id = v_organization
         ORDER BY k.created_at DESC, k.id;
END
$$;
SELECT leadledger.secure_function('public.list_api_keys(uuid, uuid)', true);

-- org_lock_managed_key: the API key a revoke or rotate acts on, locked (FOR UPDATE), once the
-- caller is known to manage it: org_scope first, then a key of another organization is 'API key
-- not found' (23503) like a missing one, then the acting user needs the role org_role_to_manage
-- names (admins: their own keys and members'; owners: any).
CREATE OR REPLACE FUNCTION leadledger.org_lock_managed_key(
    p_api_key_id uuid, p_organization_id uuid, p_acting_user_id uuid
)
RETURNS public.api_keys
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid := leadledger.org_scope(p_organization_id);
    v_actor uuid := leadledger.org_acting_user(p_acting_user_id);
    v_key public.api_keys;
BEGIN
    SELECT * INTO v_key FROM public.api_keys
     WHERE id = p_api_key_id AND (v_organization IS NULL OR organization_id = v_organization) FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM leadledger.raise_error('23503', 'API key not found');
    END IF;
    PERFORM leadledger.org_require_role(v_key.organization_id, v_actor,
                                        leadledger.org_role_to_manage(v_key.organization_id, v_actor, v_key.user_id));
    RETURN v_key;
END
$$;

-- revoke_api_key: revokes one key at once (the next request with it is refused); idempotent
-- (revoking a revoked key changes nothing and says so). Admins: their own keys and members';
-- owners: any.
-- Guarantees: a key of another organization is 'API key not found' (23503), as a missing one.
CREATE OR REPLACE FUNCTION public.revoke_api_key(
    p_api_key_id uuid,
    p_organization_id uuid DEFAULT NULL,
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
    v_key public.api_keys;
BEGIN
    v_key := leadledger.org_lock_managed_key(p_api_key_id, p_organization_id, p_acting_user_id);
    UPDATE public.api_keys SET revoked_at = now() WHERE id = p_api_key_id AND revoked_at IS NULL;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'api_key_id', p_api_key_id, 'organization_id', v_key.organization_id,
        'revoked_at', coalesce(v_key.revoked_at, now()), 'already_revoked', v_key.revoked_at IS NOT NULL));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.revoke_api_key(uuid, uuid, uuid)', true);

-- rotate_api_key: replaces a live key by a new one (same user, organization and name): the old
-- is revoked and the new stored in one transaction, so there is never a moment with neither.
-- Admins: their own keys and members'; owners: any (the caller receives the new key, which acts
-- with its user's role). Guarantees: the key row is locked first; a revoked key cannot be rotated
-- (P0001); a key of another organization is 'API key not found' (23503).
CREATE OR REPLACE FUNCTION public.rotate_api_key(
    p_api_key_id uuid,
    p_new_key_hash text,
    p_organization_id uuid DEFAULT NULL,
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
    v_key public.api_keys;
    v_new uuid;
BEGIN
    IF p_new_key_hash IS NULL OR p_new_key_hash !~ '^[0-9a-f]{64}$' THEN
        PERFORM leadledger.invalid_parameter('p_new_key_hash', 'must be a hex SHA-256 digest');
    END IF;
    v_key := leadledger.org_lock_managed_key(p_api_key_id, p_organization_id, p_acting_user_id);
    IF v_key.revoked_at IS NOT NULL THEN
        PERFORM leadledger.raise_error('P0001', 'The API key is revoked; create a new one');
    END IF;
    UPDATE public.api_keys SET revoked_at = now() WHERE id = p_api_key_id;
    INSERT INTO public.api_keys (user_id, organization_id, key_hash, name)
    VALUES (v_key.user_id, v_key.organization_id, p_new_key_hash, v_key.name)
    RETURNING id INTO v_new;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'api_key_id', v_new, 'replaced_api_key_id', p_api_key_id, 'user_id', v_key.user_id,
        'organization_id', v_key.organization_id, 'name', v_key.name));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.rotate_api_key(uuid, text, uuid, uuid)', true);

-- authenticate_api_key: who a live API key acts as: its user, its organization and the user's
-- role there; no row for an unknown or revoked key, or one whose user left the organization.
-- Keeps last_used_at, written at most once a minute per key (one UPDATE that changes nothing
-- when it is fresh), so authenticating is not a write per request. Service only (granted to
-- it alone, and anyone else is refused: 42501).
CREATE OR REPLACE FUNCTION public.authenticate_api_key(p_key_hash text)
RETURNS TABLE (user_id uuid, organization_id uuid, role text, api_key_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
SET statement_timeout = '30s'
AS $$
BEGIN
    -- Granted to the service only; checked here too (a grant added by mistake must not turn
    -- this into a way for end users to test keys).
    IF NOT leadledger.org_is_service() THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: only the service authenticates API keys');
    END IF;
    RETURN QUERY
        SELECT k.user_id, k.organization_id, m.role, k.id
          FROM public.api_keys k
          JOIN public.organization_members m ON m.organization_id = k.organization_id AND m.user_id = k.user_id
         WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL;
    IF FOUND THEN
        -- SKIP LOCKED: a request racing with another on the same key does not wait for it.
        UPDATE public.api_keys k SET last_used_at = now()
         WHERE k.id = (SELECT s.id FROM public.api_keys s
                        WHERE s.key_hash = p_key_hash
                          AND (s.last_used_at IS NULL OR s.last_used_at < now() - interval '1 minute')
                          FOR UPDATE SKIP LOCKED);
    END IF;
END
$$;
SELECT leadledger.secure_function('public.authenticate_api_key(text)');
