-- Campaign pipeline, current state: 11. Row level security of the campaign tables.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- The policy every domain declares on each of its tables (orgs/sql/03_row_level_security.sql,
-- docs/decisions.md D49): a PostgREST read by an end user (Supabase's authenticated role with
-- request.jwt.claims) returns only rows of the organization the claims name, and only when the
-- claims' user is a member of it; leadledger_rls.organization_id() is evaluated once per
-- statement (an initplan), and each table's organization_id is indexed. The service reads every
-- row by its own policy (leadledger_service_reads, from secure_table), by role, not by a missing
-- claim. Writes go through the functions only.

DROP POLICY IF EXISTS org_members_read ON public.gmaps_campaigns;
CREATE POLICY org_members_read ON public.gmaps_campaigns FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_campaigns');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_campaign_coverage;
CREATE POLICY org_members_read ON public.gmaps_campaign_coverage FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_campaign_coverage');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_businesses;
CREATE POLICY org_members_read ON public.gmaps_businesses FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_businesses');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_facebook_enrichments;
CREATE POLICY org_members_read ON public.gmaps_facebook_enrichments FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_facebook_enrichments');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_linkedin_enrichments;
CREATE POLICY org_members_read ON public.gmaps_linkedin_enrichments FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_linkedin_enrichments');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_email_verifications;
CREATE POLICY org_members_read ON public.gmaps_email_verifications FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_email_verifications');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_api_costs;
CREATE POLICY org_members_read ON public.gmaps_api_costs FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_api_costs');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_campaign_status_history;
CREATE POLICY org_members_read ON public.gmaps_campaign_status_history FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_campaign_status_history');

DROP POLICY IF EXISTS org_members_read ON public.gmaps_enrichment_leases;
CREATE POLICY org_members_read ON public.gmaps_enrichment_leases FOR SELECT
    USING (organization_id = (SELECT leadledger_rls.organization_id()));
SELECT leadledger.org_open_reads('public.gmaps_enrichment_leases');
