-- ETL engine, current state: row level security by organization (docs/decisions.md D49).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- etl_api is not exposed by PostgREST and API roles have no USAGE on it: these policies are
-- defence in depth, so that a grant added later by mistake still shows an end user only his
-- organization's rows. The tables are not opened to Supabase's authenticated role
-- (leadledger.org_open_reads) for the same reason; public.factor, in the exposed schema, is.
-- leadledger_service reads every row by its own policy (leadledger_service_reads, from
-- leadledger.secure_table in 20261202040300_etl_tenancy) and may insert ETL rows directly for any
-- organization (it holds INSERT on the four request tables); everything else is written by the
-- functions, which run as the owner. The log (etl_api.etl_log) holds no organization's rows: the
-- service's policy is its only one.

DROP POLICY IF EXISTS org_members_read ON etl_api.org;
CREATE POLICY org_members_read ON etl_api.org FOR SELECT
    USING (id = (SELECT leadledger_rls.organization_id()));

DROP POLICY IF EXISTS org_members_read ON etl_api.workflow_request;
CREATE POLICY org_members_read ON etl_api.workflow_request FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));
DROP POLICY IF EXISTS leadledger_service_inserts ON etl_api.workflow_request;
CREATE POLICY leadledger_service_inserts ON etl_api.workflow_request FOR INSERT TO leadledger_service
    WITH CHECK (true);

DROP POLICY IF EXISTS org_members_read ON etl_api.activity_request;
CREATE POLICY org_members_read ON etl_api.activity_request FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));
DROP POLICY IF EXISTS leadledger_service_inserts ON etl_api.activity_request;
CREATE POLICY leadledger_service_inserts ON etl_api.activity_request FOR INSERT TO leadledger_service
    WITH CHECK (true);

DROP POLICY IF EXISTS org_members_read ON etl_api.run_queue;
CREATE POLICY org_members_read ON etl_api.run_queue FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));
DROP POLICY IF EXISTS leadledger_service_inserts ON etl_api.run_queue;
CREATE POLICY leadledger_service_inserts ON etl_api.run_queue FOR INSERT TO leadledger_service
    WITH CHECK (true);

DROP POLICY IF EXISTS org_members_read ON etl_api.run_request;
CREATE POLICY org_members_read ON etl_api.run_request FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));
DROP POLICY IF EXISTS leadledger_service_inserts ON etl_api.run_request;
CREATE POLICY leadledger_service_inserts ON etl_api.run_request FOR INSERT TO leadledger_service
    WITH CHECK (true);

DROP POLICY IF EXISTS org_members_read ON etl_api.state_history;
CREATE POLICY org_members_read ON etl_api.state_history FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));

DROP POLICY IF EXISTS org_members_read ON public.factor;
CREATE POLICY org_members_read ON public.factor FOR SELECT
    USING (org_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.factor');
