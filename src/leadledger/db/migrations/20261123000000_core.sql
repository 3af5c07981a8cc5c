-- leadledger core: the private `leadledger` schema, the service role, and the shared helpers
-- every stored function of every domain uses (the error envelope and the privilege policy).
--
-- Plain SQL with no transaction control of its own: the leadledger runner applies it in one
-- transaction, `psql -1 -f` and the Supabase CLI can apply it unchanged.
--
-- Functions, views and triggers that this migration created when it landed are current state
-- now (db/sql/, docs/sql-conventions.md): removed from here, so each has one body.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:cf1a4e841ea279c22810b52567ea51d248e7df9066c6f752d1ebe71fdc0cb13f (git 20c4d12:src/leadledger/db/migrations/20261123000000_core.sql)

-- The service role. Roles are cluster-wide, so two databases of one cluster migrating at the
-- same time can both find it missing; the loser of that race sees duplicate_object (or a
-- unique violation on pg_authid) and carries on.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'leadledger_service') THEN
        CREATE ROLE leadledger_service NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- Supabase's service_role (and through it the Python service and workers on Supabase) acts as
-- leadledger_service.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        GRANT leadledger_service TO service_role;
    END IF;
END
$$;

CREATE SCHEMA leadledger;
COMMENT ON SCHEMA leadledger IS
    'leadledger internals: helpers used by the public stored functions; not exposed through PostgREST.';
REVOKE ALL ON SCHEMA leadledger FROM PUBLIC;
GRANT USAGE ON SCHEMA leadledger TO leadledger_service;

-- revoke_from_everyone: REVOKE ALL on one of our objects from PUBLIC and from Supabase's API
-- roles anon and authenticated where they exist (Supabase's default privileges grant them
-- rights on every new function and table, which revoking from PUBLIC alone does not undo).
-- p_kind is FUNCTION or TABLE; p_object a regprocedure or regclass rendered by PostgreSQL (a
-- quoted catalog reference), never user input. Used by secure_function and secure_table.
CREATE FUNCTION leadledger.revoke_from_everyone(p_kind text, p_object text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role text;
BEGIN
    IF p_kind NOT IN ('FUNCTION', 'TABLE') THEN
        RAISE EXCEPTION 'revoke_from_everyone: unknown object kind %', p_kind;
    END IF;
    EXECUTE format('REVOKE ALL ON %s %s FROM PUBLIC', p_kind, p_object);
    FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('REVOKE ALL ON %s %s FROM %I', p_kind, p_object, v_role);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION leadledger.revoke_from_everyone(text, text) FROM PUBLIC;

-- secure_function: the privilege policy of every public stored function, in one place.
-- Revokes EXECUTE from PUBLIC and from Supabase's anon and authenticated roles (which Supabase
-- grants by default privileges), and grants it to leadledger_service. Functions meant for end
-- users pass p_end_user => true to keep `authenticated`; they check the caller's tenant
-- themselves. The statements are built from a regprocedure (a catalog reference quoted by
-- PostgreSQL), never from user input.
CREATE FUNCTION leadledger.secure_function(p_function regprocedure, p_end_user boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM leadledger.revoke_from_everyone('FUNCTION', p_function::text);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO leadledger_service', p_function);
    IF p_end_user AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', p_function);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION leadledger.secure_function(regprocedure, boolean) FROM PUBLIC;
-- secure_table: the privilege policy for a table of ours in an API-exposed schema. Tables are
-- written only through the stored functions, which run as the table owner. Revokes everything
-- from PUBLIC and from Supabase's API roles anon and authenticated where they exist (Supabase's
-- default privileges grant them ALL on every new table in public, so revoking from PUBLIC alone
-- would leave the tables open through PostgREST); with p_service_reads grants SELECT to
-- leadledger_service. Enables row level security with, for p_service_reads, one policy letting
-- leadledger_service read every row: a grant added later by mistake still shows no row to an
-- API role. The owner (the functions) is not restricted: RLS is enabled, not forced.
CREATE FUNCTION leadledger.secure_table(p_table regclass, p_service_reads boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM leadledger.revoke_from_everyone('TABLE', p_table::text);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    IF p_service_reads THEN
        EXECUTE format('GRANT SELECT ON TABLE %s TO leadledger_service', p_table);
        EXECUTE format('CREATE POLICY leadledger_service_reads ON %s FOR SELECT TO leadledger_service USING (true)',
                       p_table);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION leadledger.secure_table(regclass, boolean) FROM PUBLIC;
