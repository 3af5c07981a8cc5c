-- Organizations, current state: 0. Who is calling, and which organization a call is confined to.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
--
-- The rule (docs/decisions.md D47): only the service may act for any organization. The service
-- is the role that invoked the call holding leadledger_service (Supabase's service_role, the
-- Python service's login role). Every other caller is an end user and must prove, with the JWT
-- claims PostgREST sets (request.jwt.claims), who it is (sub) and which organization it acts in
-- (organization_id, or app_metadata.organization_id), and be a member of it. Anything less is
-- refused: no claims, a token without a user, a custom role made IN ROLE authenticated.

-- org_is_service: does the call come from the service? The invoking role is the one PostgREST
-- switched to (the role setting, which SECURITY DEFINER functions do not change), else the
-- session's login role; it must hold leadledger_service's privileges (a superuser does).
CREATE OR REPLACE FUNCTION leadledger.org_is_service()
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_has_role(coalesce(nullif(current_setting('role'), 'none'), session_user::text)::name,
                       'leadledger_service', 'MEMBER');
END
$$;

-- org_claimed: what the request's JWT claims (request.jwt.claims, as PostgREST sets them) say:
-- the user (sub) and the organization (the top-level
-- organization_id claim, else app_metadata's, which Supabase lets only the service set;
-- user_metadata, which users edit, is never read); each NULL when absent or not a UUID.
-- Read once per call (docs/sql-conventions.md, "Small helpers").
CREATE OR REPLACE FUNCTION leadledger.org_claimed(OUT user_id uuid, OUT organization_id uuid)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
    user_id := leadledger.uuid_or_null(v_claims ->> 'sub');
    organization_id := leadledger.uuid_or_null(coalesce(v_claims ->> 'organization_id',
                                                        v_claims #>> '{app_metadata,organization_id}'));
END
$$;

-- org_claimed_user: the claims' user (org_claimed), NULL when absent or not a UUID.
CREATE OR REPLACE FUNCTION leadledger.org_claimed_user()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (leadledger.org_claimed()).user_id;
END
$$;

-- leadledger_rls.organization_id: for row level security: the organization the claims name when
-- the claims' user is a member of it, else NULL (no row visible). Policies call it once per
-- statement, as an initplan: organization_id = (SELECT leadledger_rls.organization_id()). It
-- lives in its own schema, the one of ours that every role may use, so that policies evaluated
-- as an API role can call it without opening the leadledger schema to them.
CREATE OR REPLACE FUNCTION leadledger_rls.organization_id()
RETURNS uuid
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.organization_id
      FROM leadledger.org_claimed() c
      JOIN public.organization_members m ON m.user_id = c.user_id AND m.organization_id = c.organization_id
$$;
GRANT EXECUTE ON FUNCTION leadledger_rls.organization_id() TO PUBLIC;

-- org_role_rank: owner 3 > admin 2 > member 1 (NULL: not a member).
CREATE OR REPLACE FUNCTION leadledger.org_role_rank(p_role text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 END
$$;

-- org_member_role: a user's role in an organization, NULL when not a member (by the primary
-- key).
CREATE OR REPLACE FUNCTION leadledger.org_member_role(p_organization_id uuid, p_user_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT m.role FROM public.organization_members m
             WHERE m.organization_id = p_organization_id AND m.user_id = p_user_id);
END
$$;

-- org_scope: the organization a call is confined to, checked; every end-user function calls it
-- first and reads and writes only rows of the organization it returns.
-- Guarantees (deny by default):
-- * the service: p_organization_id as given; NULL means the service acts across organizations
--   (workers, the CLI), which no one else may;
-- * anyone else: the organization of the JWT claims, when the claims' user is a member of it;
--   no claims, no user, no organization claim or no membership is 42501 'Not allowed'; a
--   p_organization_id other than the claims' is 'Organization not found' (23503), as an id of
--   another tenant must read like one that does not exist.
-- The end user becomes the transaction's acting user (leadledger.acting_user) for the audit log.
CREATE OR REPLACE FUNCTION leadledger.org_scope(p_organization_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claimed record;
    v_user uuid;
    v_organization uuid;
BEGIN
    IF leadledger.org_is_service() THEN
        RETURN p_organization_id;
    END IF;
    v_claimed := leadledger.org_claimed();
    v_user := v_claimed.user_id;
    v_organization := v_claimed.organization_id;
    IF v_user IS NULL OR v_organization IS NULL
       OR leadledger.org_member_role(v_organization, v_user) IS NULL THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: sign in as a member of an organization',
            'the call needs JWT claims naming a user (sub) and an organization it belongs to (organization_id)');
    END IF;
    IF p_organization_id IS NOT NULL AND p_organization_id <> v_organization THEN
        PERFORM leadledger.raise_error('23503', 'Organization not found');
    END IF;
    PERFORM set_config('leadledger.acting_user', v_user::text, true);
    RETURN v_organization;
END
$$;

-- org_acting_user: the user a call acts as: the end user of the claims, else the p_user_id the
-- service passes for the person it acts for (the HTTP API's caller), else NULL (the service
-- itself: the CLI, a worker).
CREATE OR REPLACE FUNCTION leadledger.org_acting_user(p_user_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE WHEN leadledger.org_is_service() THEN p_user_id ELSE leadledger.org_claimed_user() END;
END
$$;

-- org_require_role: 42501 unless the acting user holds at least p_role in the organization. The
-- service acting for no one (the CLI) may: it is the operator.
CREATE OR REPLACE FUNCTION leadledger.org_require_role(p_organization_id uuid, p_acting_user uuid, p_role text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_acting_user IS NULL AND leadledger.org_is_service() THEN
        RETURN;
    END IF;
    IF coalesce(leadledger.org_role_rank(leadledger.org_member_role(p_organization_id, p_acting_user)), 0)
       < leadledger.org_role_rank(p_role) THEN
        PERFORM leadledger.raise_error('42501', format('Not allowed: only an %s of the organization may do this',
                                                       CASE p_role WHEN 'owner' THEN 'owner' ELSE 'admin or owner' END));
    END IF;
END
$$;

-- org_role_to_manage: the role an acting user needs to manage another user's API keys in an
-- organization (create one acting as him, rotate one, which hands over the new key, or revoke
-- one): admin for his own keys and members', owner for admins' and owners' (a key acts with its
-- user's role, so an admin who could mint or rotate an owner's key would be an owner).
CREATE OR REPLACE FUNCTION leadledger.org_role_to_manage(p_organization_id uuid, p_acting_user uuid, p_user_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE WHEN p_user_id IS DISTINCT FROM p_acting_user
                 AND leadledger.org_member_role(p_organization_id, p_user_id) IN ('owner', 'admin')
                THEN 'owner' ELSE 'admin' END;
END
$$;

-- org_default: the deployment's default organization (20261202040000_organizations creates it).
CREATE OR REPLACE FUNCTION leadledger.org_default()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT id FROM public.organizations WHERE is_default);
END
$$;

-- org_of_user: the one organization a user belongs to, for a service call that names a user but
-- no organization; 22023 naming p_field when the user belongs to several (say which) or none.
CREATE OR REPLACE FUNCTION leadledger.org_of_user(p_user_id uuid, p_field text DEFAULT 'p_organization_id')
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organizations uuid[];
BEGIN
    v_organizations := ARRAY(SELECT organization_id FROM public.organization_members WHERE user_id = p_user_id);
    IF cardinality(v_organizations) = 1 THEN
        RETURN v_organizations[1];
    END IF;
    PERFORM leadledger.invalid_parameter(p_field, CASE WHEN cardinality(v_organizations) = 0
        THEN 'is required: the user belongs to no organization'
        ELSE format('is required: the user belongs to %s organizations', cardinality(v_organizations)) END);
    RETURN NULL;
END
$$;

-- org_open_reads: lets Supabase's authenticated role SELECT a table (where that role exists);
-- which rows it sees is up to the table's row level security policy, which every caller of
-- this declares next to the call (org_members_read: the rows of the caller's organization).
CREATE OR REPLACE FUNCTION leadledger.org_open_reads(p_table regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        EXECUTE format('GRANT SELECT ON TABLE %s TO authenticated', p_table);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION leadledger.org_open_reads(regclass) FROM PUBLIC;
