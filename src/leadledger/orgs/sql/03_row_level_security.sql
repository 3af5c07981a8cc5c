-- Organizations, current state: 3. Row level security of the organization tables.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Every domain declares the same policy on each of its tables, in its own NN_row_level_security
-- file: a PostgREST read by an end user (Supabase's authenticated role with request.jwt.claims)
-- returns only rows of the organization the claims name, and only when the claims' user is a
-- member of it; the service reads every row by its own policy (leadledger_service_reads, from
-- secure_table), by role, not by a missing claim. Writes go through the functions only.

DROP POLICY IF EXISTS org_members_read ON public.organizations;
CREATE POLICY org_members_read ON public.organizations FOR SELECT
    USING (id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.organizations');

DROP POLICY IF EXISTS org_members_read ON public.organization_members;
CREATE POLICY org_members_read ON public.organization_members FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.organization_members');
