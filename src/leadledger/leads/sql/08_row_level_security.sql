-- Leads and conversations, current state: 8. Row level security of the domain's tables.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- A PostgREST read by an end user (Supabase's authenticated role with request.jwt.claims)
-- returns only rows of the organization the claims name, and only when the claims' user is a
-- member of it (D49: leadledger_rls.organization_id, evaluated once per statement); the service
-- reads every row by its own policy (leadledger_service_reads, from secure_table), by role, not
-- by a missing claim. Writes go through the functions only. api_keys and app_users are not
-- opened (orgs/ owns them; an API key's hash is never readable).

DROP POLICY IF EXISTS org_members_read ON public.leads;
CREATE POLICY org_members_read ON public.leads FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.leads');

DROP POLICY IF EXISTS org_members_read ON public.conversations;
CREATE POLICY org_members_read ON public.conversations FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.conversations');

DROP POLICY IF EXISTS org_members_read ON public.messages;
CREATE POLICY org_members_read ON public.messages FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.messages');

DROP POLICY IF EXISTS org_members_read ON public.whatsapp_numbers;
CREATE POLICY org_members_read ON public.whatsapp_numbers FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.whatsapp_numbers');

DROP POLICY IF EXISTS org_members_read ON public.lead_audit_log;
CREATE POLICY org_members_read ON public.lead_audit_log FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.lead_audit_log');
