-- Sequences are closed like tables (issue 10, from review). Supabase's default privileges grant
-- anon and authenticated ALL on every new sequence in public, as on every new table, and
-- leadledger.secure_table closes tables only: the identity columns' sequences stayed open
-- (an API role could call nextval on them, or read how many audit rows exist). This revokes
-- everything on every sequence in our schemas from PUBLIC and the two API roles, and changes the
-- migrating role's default privileges so that sequences it creates later start closed.
DO $$
DECLARE
    v_sequence regclass;
    v_role text;
BEGIN
    FOR v_sequence IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'S' AND n.nspname IN ('public', 'leadledger', 'etl_api')
    LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC', v_sequence);
        FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
                EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', v_sequence, v_role);
            END IF;
        END LOOP;
    END LOOP;
    FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', v_role);
        END IF;
    END LOOP;
END
$$;
