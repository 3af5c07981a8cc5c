-- Organizations (issue 10): the tenant of every domain. 000's organization_id, 002's workspace
-- and 004's org are all this table (docs/decisions.md D45).
--
-- * organizations, and organization_members (user, organization, role: owner, admin, member).
-- * The deployment's default organization (is_default): where the service puts what names no
--   organization (a campaign created through rpc() without one, 000 §4.3's example).
-- * Existing users each get an organization of their own, with themselves as owner (D46);
--   their API keys act within it.
-- * API keys belong to a user acting within one organization, and remember when they were last
--   used.
-- * 004's etl_api.org rows become organizations with the same ids; etl_api.org keeps the ETL's
--   per-organization settings and metrics, 1:1 with organizations.
-- * The role that migrates is the role the service runs as in most deployments: it is granted
--   leadledger_service here, since only that role may now act for any organization (D47).

CREATE TABLE public.organizations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.organizations IS 'Tenants: every domain row belongs to exactly one organization.';
-- At most one default organization.
CREATE UNIQUE INDEX organizations_default_key ON public.organizations (is_default) WHERE is_default;

CREATE TABLE public.organization_members (
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES public.app_users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
COMMENT ON TABLE public.organization_members IS 'Who belongs to which organization, as owner, admin or member.';
-- Serves "the organizations of a user" (authentication, list_organizations).
CREATE INDEX organization_members_user_idx ON public.organization_members (user_id);

INSERT INTO public.organizations (name, is_default) VALUES ('Default organization', true);

CREATE TEMPORARY TABLE leadledger_user_organization ON COMMIT DROP AS
SELECT u.id AS user_id, gen_random_uuid() AS organization_id,
       left(coalesce(nullif(btrim(u.name), ''), u.email, 'User ' || u.id::text), 200) AS name
  FROM public.app_users u;
INSERT INTO public.organizations (id, name) SELECT organization_id, name FROM leadledger_user_organization;
INSERT INTO public.organization_members (organization_id, user_id, role)
SELECT organization_id, user_id, 'owner' FROM leadledger_user_organization;

ALTER TABLE public.api_keys
    ADD COLUMN organization_id uuid REFERENCES public.organizations (id) ON DELETE CASCADE,
    ADD COLUMN last_used_at timestamptz;
UPDATE public.api_keys k SET organization_id = m.organization_id
  FROM public.organization_members m WHERE m.user_id = k.user_id;
ALTER TABLE public.api_keys ALTER COLUMN organization_id SET NOT NULL;
-- Serves list_api_keys (an organization's keys).
CREATE INDEX api_keys_organization_idx ON public.api_keys (organization_id, created_at);

INSERT INTO public.organizations (id, name, created_at)
SELECT id, name, created_at FROM etl_api.org
ON CONFLICT (id) DO NOTHING;
ALTER TABLE etl_api.org
    ADD CONSTRAINT org_organization_fkey FOREIGN KEY (id) REFERENCES public.organizations (id) ON DELETE CASCADE;
COMMENT ON TABLE etl_api.org IS 'The ETL engine''s settings and counters of an organization (public.organizations), 1:1.';

SELECT leadledger.secure_table(t)
  FROM unnest(ARRAY['public.organizations', 'public.organization_members']::regclass[]) t;

-- Row level security policies are evaluated as the querying role: the one function they call
-- (leadledger_rls.organization_id, current state) lives in a schema every role may use, so the
-- leadledger schema stays closed to the API roles.
CREATE SCHEMA leadledger_rls;
COMMENT ON SCHEMA leadledger_rls IS 'The function row level security policies call; usable by every role.';
GRANT USAGE ON SCHEMA leadledger_rls TO PUBLIC;

DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'leadledger_service', 'MEMBER') THEN
        EXECUTE format('GRANT leadledger_service TO %I', current_user);
    END IF;
END
$$;

-- The campaigns helper gmaps_to_uuid became the core's uuid_or_null (db/sql/01_validation.sql).
DROP FUNCTION IF EXISTS leadledger.gmaps_to_uuid(text);

-- Users and API keys now belong to organizations: their functions moved to orgs/sql/ with new
-- signatures (the current state creates them).
DROP FUNCTION IF EXISTS public.create_app_user(text, text, uuid);
DROP FUNCTION IF EXISTS public.create_api_key(uuid, text, text);
DROP FUNCTION IF EXISTS public.authenticate_api_key(text);
